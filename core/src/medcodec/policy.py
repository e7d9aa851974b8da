"""Built-in compression policy (``trylast``): which codec for which image, and what is never allowed.

A policy is data: quality *profiles* (``diagnostic`` lossless, ``viewing`` visually lossless, ``thumbnail``),
each with a codec preference list and verification thresholds, and ordered *rules* that match an instance by
Modality, SOP Class, BitsStored, PhotometricInterpretation, Body Part, calling AE and profile. The default is the
TOML preset ``presets/default.toml`` (the design document's table, section 4.4); a user file given with
``--policy FILE`` (or ``MEDCODEC_POLICY``) *extends* it: its rules are checked first, its profile keys replace
the preset's, and the preset's regulatory rules (mammography lossless only) always stay in force.

How a request is decided (:func:`decide`; ``medcodec policy explain FILE`` prints every step):

1. every rule is matched against the instance's facts; a matching ``refuse`` rule refuses at once, a matching
   ``lossless_only`` rule is remembered as a constraint, and the first matching rule with ``codecs`` supplies
   the preference list (otherwise the profile's list is used);
2. an explicit codec in the request replaces the list (rule ``explicit``);
3. a lossy request (a lossy explicit codec or a lossy profile) is refused by the first ``lossless_only``
   constraint, and by ``no-lossy-on-lossy`` when the data is already lossy (0028,2110 = 01) unless allowed;
4. the first codec of the list that is installed, accepted by the peer and able to encode the image is chosen.

A plugin or site policy implements ``medcodec_select_codec`` without ``trylast`` to decide before this one.
"""

from __future__ import annotations

import math
import os
import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medcodec._hookimpl import hookimpl
from medcodec.errors import MedcodecError
from medcodec.registry import CodecChoice, CodecSpec, CompressionRequest, Refusal, image_kind

if TYPE_CHECKING:
    from pydicom import Dataset

__all__ = ["Policy", "PolicyError", "active_policy", "decide", "explain", "image_kind", "load_policy",
           "preset_names", "use_policy", "with_thresholds"]

#: Environment variable naming a policy file or preset, read when no policy was set with :func:`use_policy`.
POLICY_ENV = "MEDCODEC_POLICY"
DEFAULT_PRESET = "default"
MATCH_KEYS = ("modality", "sop_class", "bits_stored", "photometric", "body_part", "calling_ae", "profile")
#: Codec name -> (option it reads a PSNR target from, whether that target's peak is 2**BitsStored - 1).
#: OpenJPEG measures PSNR against the full BitsStored range, medcodec's verification against the image's own
#: dynamic range; translating keeps the "psnr" of a profile meaning the same thing in both places.
PSNR_OPTIONS: Mapping[str, tuple[str, bool]] = {"jpeg2000": ("j2k_psnr", True), "htj2k": ("htj2k_psnr", False)}


class PolicyError(MedcodecError, ValueError):
    """A policy file is unreadable or invalid; the message names the file and the offending entry."""

    def __init__(self, source: str, problem: str) -> None:
        self.source, self.problem = source, problem
        super().__init__(f"Policy '{source}': {problem}")


# --- the policy as data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodecEntry:
    """One preference: a codec name, its options, and an optional PSNR target translated per codec."""

    codec: str
    options: Mapping[str, Any] = field(default_factory=dict)
    psnr: float | None = None


@dataclass(frozen=True)
class Match:
    """Conditions of a rule; every given key must match (a list means "any of"), an empty match matches all."""

    conditions: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def test(self, facts: Mapping[str, str]) -> tuple[bool, list[str]]:
        """(matched, one line per condition saying what was compared)."""
        lines, ok = [], True
        for key, wanted in self.conditions.items():
            value = facts.get(key, "")
            hit = value in wanted
            ok = ok and hit
            lines.append(f"{key} {value or '(absent)'!s} {'in' if hit else 'not in'} [{', '.join(sorted(wanted))}]")
        return ok, lines or ["matches every instance"]


@dataclass(frozen=True)
class Rule:
    name: str
    match: Match
    reason: str = ""
    lossless_only: bool = False
    refuse: bool = False
    codecs: tuple[CodecEntry, ...] = ()
    regulatory: bool = False
    origin: str = ""


@dataclass(frozen=True)
class Profile:
    name: str
    lossless: bool
    codecs: tuple[CodecEntry, ...]
    description: str = ""
    min_psnr: float | None = None
    min_ssim: float | None = None
    max_abs_error: float | None = None


@dataclass(frozen=True)
class Policy:
    name: str
    profiles: Mapping[str, Profile]
    rules: tuple[Rule, ...]
    description: str = ""
    allow_lossy_recompression: bool = False
    sources: tuple[str, ...] = ()


# --- loading -----------------------------------------------------------------------------------------------


def preset_names() -> list[str]:
    """The presets shipped with medcodec (``medcodec policy presets``)."""
    folder = resources.files("medcodec").joinpath("presets")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _read_toml(name_or_path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists() or os.sep in str(name_or_path):
        try:
            with path.open("rb") as fh:
                return tomllib.load(fh), str(path)
        except FileNotFoundError:
            raise PolicyError(str(path), "file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(str(path), f"not valid TOML: {exc}") from exc
    name = str(name_or_path)
    if name not in preset_names():
        raise PolicyError(name, f"no such file, and not a preset (presets: {', '.join(preset_names())})")
    text = resources.files("medcodec").joinpath("presets", f"{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text), f"preset:{name}"


def _codec_entries(raw: Any, where: str, source: str) -> tuple[CodecEntry, ...]:
    if not isinstance(raw, list):
        raise PolicyError(source, f"{where}: 'codecs' must be a list of codec names or tables")
    entries = []
    for item in raw:
        if isinstance(item, str):
            entries.append(CodecEntry(item))
        elif isinstance(item, dict) and isinstance(item.get("codec"), str):
            unknown = set(item) - {"codec", "options", "psnr"}
            if unknown:
                raise PolicyError(source, f"{where}: unknown codec entry keys {sorted(unknown)}")
            options = item.get("options", {})
            if not isinstance(options, dict):
                raise PolicyError(source, f"{where}: options of '{item['codec']}' must be a table")
            psnr = item.get("psnr")
            entries.append(CodecEntry(item["codec"], options, None if psnr is None else float(psnr)))
        else:
            raise PolicyError(source, f"{where}: codec entry {item!r} is neither a name nor {{ codec = ... }}")
    return tuple(entries)


def _profile(name: str, raw: Mapping[str, Any], source: str) -> Profile:
    unknown = set(raw) - {"lossless", "codecs", "description", "min_psnr", "min_ssim", "max_abs_error"}
    if unknown:
        raise PolicyError(source, f"profile '{name}': unknown keys {sorted(unknown)}")
    if "lossless" not in raw or "codecs" not in raw:
        raise PolicyError(source, f"profile '{name}' needs 'lossless' and 'codecs'")

    def number(key: str) -> float | None:
        value = raw.get(key)
        if value is not None and not isinstance(value, int | float):
            raise PolicyError(source, f"profile '{name}': {key} must be a number, not {value!r}")
        return None if value is None else float(value)

    return Profile(name, bool(raw["lossless"]), _codec_entries(raw["codecs"], f"profile '{name}'", source),
                   str(raw.get("description", "")), number("min_psnr"), number("min_ssim"), number("max_abs_error"))


def _rule(raw: Mapping[str, Any], position: int, source: str) -> Rule:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise PolicyError(source, f"rule #{position + 1} has no 'name'")
    unknown = set(raw) - {"name", "match", "reason", "lossless_only", "refuse", "codecs", "regulatory"}
    if unknown:
        raise PolicyError(source, f"rule '{name}': unknown keys {sorted(unknown)}")
    match = raw.get("match", {})
    if not isinstance(match, dict):
        raise PolicyError(source, f"rule '{name}': 'match' must be a table")
    bad = set(match) - set(MATCH_KEYS)
    if bad:
        raise PolicyError(source, f"rule '{name}': unknown match keys {sorted(bad)} (known: {', '.join(MATCH_KEYS)})")
    conditions = {}
    for key, value in match.items():
        values = value if isinstance(value, list) else [value]
        normalise = str.upper if key in ("modality", "photometric", "body_part") else str
        conditions[key] = frozenset(normalise(str(v)).strip() for v in values)
    codecs = _codec_entries(raw["codecs"], f"rule '{name}'", source) if "codecs" in raw else ()
    if not (raw.get("lossless_only") or raw.get("refuse") or codecs):
        raise PolicyError(source, f"rule '{name}' does nothing: give lossless_only, refuse or codecs")
    return Rule(name, Match(conditions), str(raw.get("reason", "")), bool(raw.get("lossless_only", False)),
                bool(raw.get("refuse", False)), codecs, bool(raw.get("regulatory", False)), source)


def load_policy(name_or_path: str | os.PathLike[str] = DEFAULT_PRESET) -> Policy:
    """Load a policy TOML file or a preset by name; a file extends ``default`` unless it says otherwise.

    :raises PolicyError: naming the file and the problem (unknown keys, wrong types, unknown profile).
    """
    raw, source = _read_toml(name_or_path)
    head = raw.get("policy", {})
    unknown = set(raw) - {"policy", "profiles", "rules"}
    if unknown:
        raise PolicyError(source, f"unknown top-level keys {sorted(unknown)} (known: policy, profiles, rules)")
    extends = head.get("extends", None if source == f"preset:{DEFAULT_PRESET}" else DEFAULT_PRESET)
    base = load_policy(extends) if extends else None
    if base is not None and source in base.sources:
        raise PolicyError(source, f"extends itself through '{extends}'")

    profiles: dict[str, Profile] = dict(base.profiles) if base else {}
    for name, table in (raw.get("profiles") or {}).items():
        if not isinstance(table, dict):
            raise PolicyError(source, f"profile '{name}' must be a table")
        merged = dict(table)
        if name in profiles:  # keys not given keep the base profile's values
            old = profiles[name]
            merged = {"lossless": old.lossless, "codecs": [_entry_as_toml(e) for e in old.codecs],
                      "description": old.description, "min_psnr": old.min_psnr, "min_ssim": old.min_ssim,
                      "max_abs_error": old.max_abs_error} | table
        profiles[name] = _profile(name, merged, source)
    raw_rules = raw.get("rules") or []
    if not isinstance(raw_rules, list):
        raise PolicyError(source, "'rules' must be an array of tables ([[rules]])")
    rules = tuple(_rule(r, i, source) for i, r in enumerate(raw_rules))
    names = [r.name for r in rules] + [r.name for r in base.rules] if base else [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PolicyError(source, f"rule names must be unique; repeated: {', '.join(duplicates)}")
    policy = Policy(
        name=str(head.get("name", Path(str(name_or_path)).stem)),
        profiles=profiles,
        rules=rules + (base.rules if base else ()),  # the file's own rules first: they refine the base
        description=str(head.get("description", base.description if base else "")),
        allow_lossy_recompression=bool(head.get("allow_lossy_recompression",
                                                base.allow_lossy_recompression if base else False)),
        sources=(source, *(base.sources if base else ())),
    )
    _check(policy, source)
    return policy


def _entry_as_toml(entry: CodecEntry) -> dict[str, Any]:
    table: dict[str, Any] = {"codec": entry.codec, "options": dict(entry.options)}
    if entry.psnr is not None:
        table["psnr"] = entry.psnr
    return table


def _check(policy: Policy, source: str) -> None:
    for required in ("diagnostic",):
        if required not in policy.profiles:
            raise PolicyError(source, f"the '{required}' profile is missing")
    if not policy.profiles["diagnostic"].lossless:
        raise PolicyError(source, "the 'diagnostic' profile must be lossless")
    for rule in policy.rules:
        for profile in rule.match.conditions.get("profile", ()):
            if profile not in policy.profiles:
                raise PolicyError(source, f"rule '{rule.name}' matches unknown profile '{profile}'")


_lock = threading.Lock()
_active: Policy | None = None


def use_policy(policy: Policy | str | os.PathLike[str] | None) -> Policy:
    """Make ``policy`` (a :class:`Policy`, a file or a preset name; None = back to the default) the active one.

    The built-in ``medcodec_select_codec`` and the pipeline's verification thresholds read the active policy.
    Worker processes call this again (the CLI passes the file to each worker).
    """
    global _active
    loaded = policy if isinstance(policy, Policy) or policy is None else load_policy(policy)
    with _lock:
        _active = loaded
    return active_policy()


def active_policy() -> Policy:
    """The policy set with :func:`use_policy`, else ``$MEDCODEC_POLICY``, else the ``default`` preset."""
    global _active
    with _lock:
        if _active is None:
            _active = load_policy(os.environ.get(POLICY_ENV) or DEFAULT_PRESET)
        return _active


# --- deciding ----------------------------------------------------------------------------------------------


def facts(ds: Dataset, request: CompressionRequest) -> dict[str, str]:
    """What rules match on; values are strings (modality, photometric and body part upper-cased)."""
    return {
        "modality": str(ds.get("Modality", "") or "").upper(),
        "sop_class": str(ds.get("SOPClassUID", "") or ""),
        "bits_stored": str(ds.get("BitsStored", "") or ""),
        "photometric": str(ds.get("PhotometricInterpretation", "") or "").upper(),
        "body_part": str(ds.get("BodyPartExamined", "") or "").upper(),
        "calling_ae": (request.calling_ae or "").strip(),
        "profile": request.profile,
        "already_lossy": "yes" if str(ds.get("LossyImageCompression", "") or "") == "01" else "no",
    }


@dataclass
class Trace:
    """Every step of one decision, for ``medcodec policy explain``."""

    facts: dict[str, str] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def add(self, step: str, outcome: str, detail: Iterable[str] = ()) -> None:
        self.steps.append({"step": step, "outcome": outcome, "detail": list(detail)})


def _dynamic_range(ds: Dataset) -> float | None:
    try:
        arr = ds.pixel_array  # pydicom caches it, and the pipeline needs it next anyway
    except Exception:  # noqa: BLE001 - header-only datasets (explain) fall back to the BitsStored range
        return None
    return max(float(arr.max()) - float(arr.min()), 1.0) if arr.size else None


def codec_options(entry: CodecEntry, ds: Dataset) -> dict[str, Any]:
    """The entry's options, with its PSNR target translated into the codec's own option."""
    options = dict(entry.options)
    if entry.psnr is None or entry.codec not in PSNR_OPTIONS:
        return options
    option, full_range_peak = PSNR_OPTIONS[entry.codec]
    target = entry.psnr
    if full_range_peak:
        peak = float((1 << int(ds.get("BitsStored", 16))) - 1)
        dynamic = _dynamic_range(ds) or peak
        target += 20.0 * math.log10(peak / min(dynamic, peak))
    value = round(target, 2)
    options[option] = [value] if option == "j2k_psnr" else value
    return options


def _usable(spec: CodecSpec, ds: Dataset, request: CompressionRequest) -> str | None:
    """None when ``spec`` may encode ``ds`` for this request, else why not."""
    from medcodec._pydicom import coder_status

    accepted = request.accepted_transfer_syntaxes
    if accepted is not None and spec.transfer_syntax not in accepted:
        return "the receiving side does not accept its transfer syntax"
    problem = spec.supports(**image_kind(ds))
    if problem:
        return problem
    available, missing = coder_status(spec)
    if not available:
        return f"it is not available ({', '.join(missing)})"
    return None


def decide(ds: Dataset, request: CompressionRequest, policy: Policy | None = None,
           trace: Trace | None = None) -> CodecChoice | Refusal:
    """Apply ``policy`` (default: the active one) to one instance; ``trace`` records every step."""
    from medcodec._plugins import codec_index

    policy = policy or active_policy()
    trace = trace if trace is not None else Trace()
    trace.facts = facts(ds, request)
    index = codec_index()

    constraints: list[Rule] = []
    chain_rule: Rule | None = None
    for rule in policy.rules:
        matched, detail = rule.match.test(trace.facts)
        if not matched:
            trace.add(f"rule '{rule.name}'", "no match", detail)
            continue
        if rule.refuse:
            trace.add(f"rule '{rule.name}'", "refuses", detail)
            return Refusal(rule.name, rule.reason or f"refused by rule '{rule.name}'")
        effects = []
        if rule.lossless_only:
            constraints.append(rule)
            effects.append("lossless only")
        if rule.codecs and chain_rule is None:
            chain_rule = rule
            effects.append("codecs " + ", ".join(e.codec for e in rule.codecs))
        elif rule.codecs:
            effects.append("codecs ignored: an earlier rule already chose the list")
        trace.add(f"rule '{rule.name}'", "matches: " + "; ".join(effects), detail)

    if request.codec:
        spec = index.get(request.codec)  # UnknownCodecError lists the names
        options = dict(request.options)
        # No options given: the codec's entry in the request's profile sets its quality (--codec jpeg2000
        # --profile viewing encodes at viewing quality). Given options replace the entry's, never mix with
        # them: two rate options for one codec contradict each other.
        profile = policy.profiles.get(request.profile)
        entry = next((e for e in profile.codecs if e.codec == spec.name), None) if profile else None
        if not options and entry is not None:
            options = codec_options(entry, ds)
        candidates = [(spec, options)]
        rule_name, lossy_requested = "explicit", not spec.lossless
        trace.add("explicit codec", f"'{spec.name}' requested ({'lossless' if spec.lossless else 'lossy'})"
                  + (f"; options from profile '{request.profile}'" if not request.options and entry else ""))
    else:
        profile = policy.profiles.get(request.profile)
        if profile is None:
            trace.add("profile", f"unknown profile '{request.profile}'")
            return Refusal("unknown-profile", f"unknown profile '{request.profile}' "
                           f"(known: {', '.join(sorted(policy.profiles))})")
        entries = chain_rule.codecs if chain_rule else profile.codecs
        rule_name = chain_rule.name if chain_rule else f"profile:{profile.name}"
        lossy_requested = not profile.lossless
        trace.add("profile", f"'{profile.name}' ({'lossless' if profile.lossless else 'lossy'}); codecs from "
                  f"{'rule ' + repr(chain_rule.name) if chain_rule else 'the profile'}",
                  [e.codec for e in entries])
        candidates = []
        for entry in entries:
            found = index.find_by_name(entry.codec)
            if found is None:
                trace.add(f"codec '{entry.codec}'", "not installed")
                continue
            if profile.lossless and not found.lossless:
                trace.add(f"codec '{entry.codec}'", "skipped: lossy codec in a lossless profile")
                continue
            candidates.append((found, {**codec_options(entry, ds), **request.options}))

    if lossy_requested and constraints:
        rule = constraints[0]
        trace.add("constraint", f"refused by '{rule.name}'")
        return Refusal(rule.name, rule.reason or f"rule '{rule.name}' allows lossless compression only")
    allowed = request.allow_lossy_recompression or policy.allow_lossy_recompression
    if lossy_requested and trace.facts["already_lossy"] == "yes" and not allowed:
        trace.add("constraint", "refused by 'no-lossy-on-lossy'")
        return Refusal("no-lossy-on-lossy",
                       "the image is already lossy compressed (0028,2110 = 01); a second lossy step is "
                       "refused unless allow_lossy_recompression is set")

    reasons = []
    for spec, options in candidates:
        problem = _usable(spec, ds, request)
        if problem is None:
            trace.add(f"codec '{spec.name}'", "chosen", [f"options {options}"] if options else [])
            return CodecChoice(spec.name, options, rule_name, spec.description)
        trace.add(f"codec '{spec.name}'", f"cannot be used: {problem}")
        reasons.append(f"'{spec.name}': {problem}")
    if request.codec:
        return Refusal("explicit", reasons[0])
    return Refusal("no-usable-codec", "no codec of the list can encode this image: "
                   + ("; ".join(reasons) or "none of them is installed"))


def with_thresholds(request: CompressionRequest, spec: CodecSpec, policy: Policy | None = None) -> CompressionRequest:
    """``request`` with the lossy profile's verification thresholds filled in where the caller gave none.

    Applies when the codec may lose data and the request's profile is lossy (a lossless profile with an
    explicit lossy codec keeps only the bounds the caller promised).
    """
    profile = (policy or active_policy()).profiles.get(request.profile)
    if spec.lossless or profile is None or profile.lossless:
        return request
    return replace(
        request,
        min_psnr=request.min_psnr if request.min_psnr is not None else profile.min_psnr,
        min_ssim=request.min_ssim if request.min_ssim is not None else profile.min_ssim,
        max_abs_error=request.max_abs_error if request.max_abs_error is not None else profile.max_abs_error,
    )


def explain(ds: Dataset, request: CompressionRequest, policy: Policy | None = None) -> dict[str, Any]:
    """Why the policy decides what it does for ``ds`` (the data behind ``medcodec policy explain``)."""
    from medcodec._plugins import install, select_codec

    install()
    policy = policy or active_policy()
    trace = Trace()
    builtin = decide(ds, request, policy, trace)
    hooked = select_codec(ds, request) if policy is active_policy() else builtin
    result: dict[str, Any] = {"policy": policy.name, "policy_sources": list(policy.sources),
                              "facts": trace.facts, "steps": trace.steps}
    if isinstance(builtin, Refusal):
        result["decision"] = {"outcome": "refused", "rule": builtin.rule, "reason": builtin.reason}
    else:
        result["decision"] = {"outcome": "chosen", "codec": builtin.codec, "rule": builtin.rule,
                              "options": dict(builtin.options)}
        spec_thresholds = with_thresholds(request, _spec(builtin.codec), policy)
        result["decision"]["verification"] = (
            "bit-exact" if _spec(builtin.codec).lossless else
            {"min_psnr": spec_thresholds.min_psnr, "min_ssim": spec_thresholds.min_ssim,
             "max_abs_error": spec_thresholds.max_abs_error})
    if hooked != builtin:
        result["plugin_decision"] = repr(hooked)
        result["note"] = "a plugin's medcodec_select_codec decided before the built-in policy"
    return result


def _spec(name: str) -> CodecSpec:
    from medcodec._plugins import codec_index

    return codec_index().get(name)


@hookimpl(trylast=True)
def medcodec_select_codec(ds: Dataset, request: CompressionRequest) -> CodecChoice | Refusal | None:
    return decide(ds, request)
