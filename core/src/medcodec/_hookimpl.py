"""The hookimpl marker, in its own module so built-in plugins can import it without importing the package."""

import pluggy

hookimpl = pluggy.HookimplMarker("medcodec")
