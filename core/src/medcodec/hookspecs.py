"""Hook specifications for medcodec plugins.

A plugin is a module (usually ``medcodec_plugin_<name>.plugin``) named by an entry point in the ``medcodec``
group. It implements any subset of the hooks below with ``@medcodec.hookimpl``; an implementation may accept
a subset of a hook's arguments. Hooks are always called with keyword arguments, so new arguments can be added
in later versions without breaking existing plugins.

These docstrings are the hook reference (``docs/dev/hooks.md`` is generated from them and a test checks that
every hook is documented there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from pydicom import Dataset

    from medcodec.registry import CodecChoice, CodecSpec, CompressionRequest, EncodeReport, Refusal, Register

hookspec = pluggy.HookspecMarker("medcodec")


# -------------------------------------------------------------------------
# codecs
# -------------------------------------------------------------------------


@hookspec
def medcodec_register_codecs(register: Register) -> None:
    """Declare this plugin's codecs by calling ``register(spec)`` once per codec.

    All implementations run, when :func:`medcodec.install` is first called.
    Keep this cheap: no native imports and no I/O; the adapter module named by the spec is imported by pydicom
    when the codec is wired, and should itself import its heavy codec lazily.

    :param register: validates one :class:`~medcodec.registry.CodecSpec` and records it; raises
        :class:`~medcodec.errors.CodecConflictError` if the name or transfer syntax is already taken.

    .. versionadded:: 0.1
    """


# -------------------------------------------------------------------------
# compression policy
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def medcodec_select_codec(ds: Dataset, request: CompressionRequest) -> CodecChoice | Refusal | None:
    """Choose the codec (and its options) for compressing ``ds`` as ``request`` asks, or refuse.

    Stops at the first non-None result. The core's built-in policy runs last (``trylast``), so a plugin
    or a site policy can decide first. Return a :class:`~medcodec.registry.Refusal` to refuse with a reason
    (for example "mammography is lossless only"); it becomes a :class:`~medcodec.errors.PolicyRefusedError`.

    :param ds: the dataset to compress (do not modify it).
    :param request: what the caller asked for: explicit codec, profile, options, peer's accepted syntaxes.
    :returns: a :class:`~medcodec.registry.CodecChoice`, a :class:`~medcodec.registry.Refusal`, or None to
        let the next implementation decide.

    .. versionadded:: 0.1
    """


# -------------------------------------------------------------------------
# metadata
# -------------------------------------------------------------------------


@hookspec
def medcodec_update_metadata(ds: Dataset, spec: CodecSpec, report: EncodeReport) -> None:
    """Adjust ``ds`` after its pixel data was encoded with ``spec``.

    All implementations run, after verification and before the dataset is returned or written. The core's
    built-in implementation sets Lossy Image Compression (0028,2110), Ratio (0028,2112) and Method (0028,2114)
    after a lossy encode, and never claims loss after a lossless one.

    :param ds: the dataset, already carrying the new transfer syntax and pixel data.
    :param spec: the codec that encoded it.
    :param report: what the encode did (sizes, ratio, errors, old and new SOP Instance UID).

    .. versionadded:: 0.1
    """


@hookspec
def medcodec_record_outcome(record: dict[str, Any]) -> None:
    """Observe the outcome of one instance's compression (for audit trails and metrics).

    All implementations run, once per instance, whether it succeeded, was refused or failed. The record holds
    UIDs, transfer syntaxes, sizes, errors and timings only -- never names or other patient data.

    :param record: JSON-serialisable fields; see :func:`medcodec.pipeline.audit_record`.

    .. versionadded:: 0.1
    """


# -------------------------------------------------------------------------
# command line
# -------------------------------------------------------------------------


@hookspec
def medcodec_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``medcodec`` command (``medcodec <plugin> ...``).

    All implementations run when the command line starts. Import the plugin's command module lazily inside the
    implementation, so that loading plugins for pydicom stays cheap.

    :param cli: the top-level :class:`click.Group`; call ``cli.add_command(group, "name")``.

    .. versionadded:: 0.1
    """
