"""The page of ``dvc plots show`` made self-contained (``pose3d plots``, ``make plots``).

DVC's page loads vega, vega-lite and vega-embed from a CDN: without internet it is blank and the
console says ``vegaEmbed is not defined``. Here those three script tags become one inline script,
the bundle that vl-convert-python ships (vega's own converter, no network), with the vega-lite
of the page's major version.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# DVC's tags (dvc_render.vega.VegaRenderer.SCRIPTS): <script src=".../npm/vega-lite@5.2.0"></script>
CDN_SCRIPT = re.compile(
    r'<script\s+src\s*=\s*"https?://cdn\.jsdelivr\.net/npm/(vega|vega-lite|vega-embed)@([^"/]+)"'
    r"\s*>\s*</script>"
)
_REMOTE_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)", re.IGNORECASE
)
_LIBRARIES = ("vega", "vega-lite", "vega-embed")
# What DVC's plots call (vegaEmbed) and the CDN scripts define, as globals of the page
GLOBALS = "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;"


def _release(version: str) -> tuple[int, ...]:
    """``"5.21"`` -> ``(5, 21)``; ``"5.2.0"`` -> ``(5, 2, 0)``."""
    if not re.fullmatch(r"\d+(\.\d+)*", version):
        raise ValueError(f"vega-lite version {version!r}: expected numbers and dots, e.g. 5.2.0")
    return tuple(int(part) for part in version.split("."))


def vegalite_release(page_version: str, available: Sequence[str]) -> str:
    """The newest of `available` (vl-convert's vega-lite versions, e.g. ``["5.21", "6.4"]``)
    with the major version of `page_version` (the page's ``vega-lite@5.2.0``): DVC's templates
    are vega-lite specs of that major version. Raises ValueError when there is none."""
    major = _release(page_version)[0]
    same = [v for v in available if _release(v)[0] == major]
    if not same:
        raise ValueError(
            f"the page asks for vega-lite {page_version}; vl-convert-python ships "
            f"{', '.join(available)}, none of major version {major}"
        )
    return max(same, key=_release)


def cdn_versions(html: str) -> dict[str, str]:
    """The versions the page asks the CDN for: ``{"vega": "5.20.2", "vega-lite": ...}``."""
    return {m.group(1): m.group(2) for m in CDN_SCRIPT.finditer(html)}


def vega_bundle(vegalite_version: str) -> str:
    """vl-convert-python's bundle of vega, vega-lite (the release `vegalite_release` picks for
    the page's `vegalite_version`) and vega-embed, which sets ``window.vegaEmbed``, ``vega``
    and ``vegaLite``; headed by a comment naming the versions. About 0.9 MB, 1 s."""
    import vl_convert

    release = vegalite_release(vegalite_version, vl_convert.get_vegalite_versions())
    head = (
        f"/* vega {vl_convert.get_vega_version()}, vega-lite {release}, vega-embed "
        f"{vl_convert.get_vega_embed_version()}: vl_convert.javascript_bundle() */"
    )
    return f"{head}\n{vl_convert.javascript_bundle(GLOBALS, vl_version=release)}"


def inline_vega(html: str, bundle: str) -> str:
    """`html` (a page of ``dvc plots show``) with its CDN script tags of vega, vega-lite and
    vega-embed replaced by one inline script of `bundle` (`vega_bundle`), where the first stood,
    so it runs before the plots call ``vegaEmbed``. The bundle runs in a function of its own:
    its top-level names cannot clash with the page's ``var spec``.

    Raises ValueError when the page lacks one of the three tags, or loads any other script from
    elsewhere (the page would not be self-contained).
    """
    missing = [name for name in _LIBRARIES if name not in cdn_versions(html)]
    if missing:
        raise ValueError(
            f"not a page of `dvc plots show`: no CDN script tag of {', '.join(missing)} "
            f'(expected <script src="https://cdn.jsdelivr.net/npm/vega-embed@...">)'
        )
    external = [m.group(1) for m in _REMOTE_SCRIPT.finditer(CDN_SCRIPT.sub("", html))]
    if external:
        raise ValueError(
            f"the page also loads {', '.join(external)}: it would need the network "
            "(only vega, vega-lite and vega-embed are inlined)"
        )
    code = re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)  # ends no script early
    script = f'<script>\n(function () {{\n"use strict";\n{code}\n}})();\n</script>'
    first = CDN_SCRIPT.search(html)
    assert first is not None  # the three tags were found above
    return f"{html[: first.start()]}{script}{CDN_SCRIPT.sub('', html[first.end() :])}"
