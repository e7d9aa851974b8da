//! Pixel predictors. Both use the causal neighbours a (left), b (above), c (above-left) and
//! d (above-right); at the borders a missing neighbour is replaced as JPEG-LS does (column 0:
//! a = c = b; last column: d = b). The first row of a strip sees only its left neighbour.
//!
//! * MED (LOCO-I's median edge detector): the best fixed predictor on the design note's images.
//! * LS4: four integer weights in 1/64 that sum to 64, fitted per strip by least squares; it wins on
//!   textured images once contexts separate flat from busy regions.

/// A predictor as stored in a strip header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Predictor {
    Med,
    /// Weights of a, b, c, d in 1/64; they sum to 64.
    Ls4([i8; 4]),
}

impl Predictor {
    /// Prediction from the four neighbours, clamped to [0, max] (values are at most 16 bits).
    pub fn predict(&self, a: i32, b: i32, c: i32, d: i32, max: i32) -> i32 {
        match *self {
            Predictor::Med => MedPredict.at(a, b, c, d),
            Predictor::Ls4(w) => Ls4Predict {
                weights: [w[0] as i32, w[1] as i32, w[2] as i32, w[3] as i32],
                max,
            }
            .at(a, b, c, d),
        }
    }
}

/// A predictor specialised at compile time, so the per-pixel loops carry no dispatch.
pub trait Predict: Copy + Send + Sync {
    fn at(&self, a: i32, b: i32, c: i32, d: i32) -> i32;
}

#[derive(Clone, Copy)]
pub struct MedPredict;

impl Predict for MedPredict {
    #[inline(always)]
    fn at(&self, a: i32, b: i32, c: i32, _d: i32) -> i32 {
        med(a, b, c)
    }
}

#[derive(Clone, Copy)]
pub struct Ls4Predict {
    pub weights: [i32; 4],
    pub max: i32,
}

impl Predict for Ls4Predict {
    #[inline(always)]
    fn at(&self, a: i32, b: i32, c: i32, d: i32) -> i32 {
        let w = self.weights;
        ((w[0] * a + w[1] * b + w[2] * c + w[3] * d + 32) >> 6).clamp(0, self.max)
    }
}

/// Calls `$body` with `$p` bound to the specialised predictor of `$predictor`.
macro_rules! with_predictor {
    ($predictor:expr, $max:expr, |$p:ident| $body:expr) => {
        match $predictor {
            $crate::native::predict::Predictor::Med => {
                let $p = $crate::native::predict::MedPredict;
                $body
            }
            $crate::native::predict::Predictor::Ls4(w) => {
                let $p = $crate::native::predict::Ls4Predict {
                    weights: [w[0] as i32, w[1] as i32, w[2] as i32, w[3] as i32],
                    max: $max,
                };
                $body
            }
        }
    };
}
pub(crate) use with_predictor;

/// MED as the median of (a, b, a + b - c), written with min/max so it compiles to conditional
/// moves: the branchy form mispredicts on noisy images.
#[inline(always)]
pub fn med(a: i32, b: i32, c: i32) -> i32 {
    let (lo, hi) = (a.min(b), a.max(b));
    (a + b - c).min(hi).max(lo)
}

/// Pixels a weight fit looks at, at most: enough for four weights, and cheap whatever the image size.
const FIT_PIXELS: usize = 1 << 15;
/// Reweighting passes after the least-squares one.
const ROBUST_PASSES: usize = 2;

/// LS4 weights fitted on the sampled rows of `values` (width `w`), or None when the system is
/// degenerate (flat image). Rows listed in `rows` must be >= 1.
///
/// A plain least-squares fit is pulled away by a few outliers (a burnt-in marker of value 4095 in a
/// 12-bit MR made LS4 lose to MED there), so it is followed by iteratively reweighted passes with
/// weights 1/|residual|, which move the fit towards least absolute error: closer to what the coded
/// size rewards.
pub fn fit_ls4(values: &[u16], w: usize, rows: impl Iterator<Item = usize>) -> Option<[i8; 4]> {
    // Features (a-d, b-d, c-d) and target x-d: x = d + wa (a-d) + wb (b-d) + wc (c-d) makes the four
    // weights sum to one by construction.
    let rows: Vec<usize> = rows.collect();
    let inner = w.saturating_sub(2);
    let stride = (rows.len() * inner).div_ceil(FIT_PIXELS).max(1);
    let mut points: Vec<([f64; 3], f64)> = Vec::with_capacity(FIT_PIXELS + w);
    for &y in &rows {
        let cur = &values[y * w..(y + 1) * w];
        let up = &values[(y - 1) * w..y * w];
        for x in (1..w.saturating_sub(1)).step_by(stride) {
            let d = up[x + 1] as f64;
            points.push(([cur[x - 1] as f64 - d, up[x] as f64 - d, up[x - 1] as f64 - d], cur[x] as f64 - d));
        }
    }
    let mut sol: Option<[f64; 3]> = None;
    for _ in 0..=ROBUST_PASSES {
        let mut m = [[0f64; 3]; 3];
        let mut v = [0f64; 3];
        for (f, t) in &points {
            let weight = match sol {
                None => 1.0,
                Some(s) => 1.0 / (t - s[0] * f[0] - s[1] * f[1] - s[2] * f[2]).abs().max(1.0),
            };
            for i in 0..3 {
                v[i] += weight * f[i] * t;
                for j in 0..3 {
                    m[i][j] += weight * f[i] * f[j];
                }
            }
        }
        sol = Some(solve3(m, v)?);
    }
    let sol = sol?;
    let mut q = [0i32; 4];
    for i in 0..3 {
        q[i] = (sol[i] * 64.0).round().clamp(-96.0, 127.0) as i32;
    }
    q[3] = 64 - q[0] - q[1] - q[2];
    if !(-128..=127).contains(&q[3]) {
        return None;
    }
    Some([q[0] as i8, q[1] as i8, q[2] as i8, q[3] as i8])
}

/// Gaussian elimination with partial pivoting; None for a (near-)singular system.
fn solve3(mut m: [[f64; 3]; 3], mut v: [f64; 3]) -> Option<[f64; 3]> {
    let scale = m
        .iter()
        .map(|r| r.iter().fold(0f64, |s, x| s.max(x.abs())))
        .fold(0f64, f64::max);
    if scale == 0.0 {
        return None;
    }
    for col in 0..3 {
        let pivot = (col..3).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[pivot][col].abs() < scale * 1e-9 {
            return None;
        }
        m.swap(col, pivot);
        v.swap(col, pivot);
        let (pivot_row, pivot_v) = (m[col], v[col]);
        for row in col + 1..3 {
            let f = m[row][col] / pivot_row[col];
            for (x, p) in m[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            v[row] -= f * pivot_v;
        }
    }
    let mut x = [0f64; 3];
    for row in (0..3).rev() {
        let s: f64 = (row + 1..3).map(|k| m[row][k] * x[k]).sum();
        x[row] = (v[row] - s) / m[row][row];
    }
    x.iter().all(|t| t.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn med_picks_edge_or_plane() {
        assert_eq!(med(10, 20, 25), 10);
        assert_eq!(med(10, 20, 5), 20);
        assert_eq!(med(10, 20, 15), 15);
    }

    #[test]
    fn ls4_recovers_a_plane_predictor() {
        // v = f(x) + g(y) with irregular f, g satisfies x = a + b - c exactly and nothing else does.
        let w = 32;
        let f: Vec<i32> = (0..w).map(|i| (i * i * 7 % 23) as i32).collect();
        let values: Vec<u16> = (0..w * w)
            .map(|i| (f[i % w] + 3 * f[(i / w + 5) % w] + 10) as u16)
            .collect();
        let fit = fit_ls4(&values, w, 1..w).expect("not degenerate");
        assert_eq!(fit, [64, 64, -64, 0]);
        let p = Predictor::Ls4(fit);
        assert_eq!(p.predict(100, 120, 115, 123, 1000), 105);
    }
}
