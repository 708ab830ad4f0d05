"""Checking every request parameter of the studio's HTTP API.

Each parser takes the raw query (``dict[str, list[str]]`` as ``urllib.parse.parse_qs``
returns it) or a JSON body and returns plain Python values, or raises
:class:`BadRequest` with an HTTP status and a message the page shows as it is. Nothing
here imports torch.
"""

from __future__ import annotations

import math
import re

from ..bounds import MAX_FPS, MAX_TRUNCATION, MIN_FPS, MIN_TRUNCATION  # noqa: F401
from ..errors import GankitError
from ..latent import check_name

MAX_SEED = 2**63  # seeds are in [0, 2**63)
MAX_SAMPLES = 64  # images per grid request
MAX_POINTS = 8  # seeds chained in one interpolation
MAX_FRAMES_PER_SEGMENT = 120
MAX_FRAMES = 480  # frames of one animation
MAX_GIF_PIXELS = 480 * 256 * 256  # frames x pixels of a resized GIF download
MAX_DIRECTIONS = 16  # directions applied at once
MAX_STRENGTH = 100.0
MAX_FIT_SEEDS = 1000  # seeds on each side of a direction fit
MAX_TEXT = 2000  # characters of any one parameter
MAX_UPLOAD = 10 * 1024 * 1024  # bytes of an uploaded image
MAX_UPLOAD_PIXELS = 40_000_000
MAX_JSON = 64 * 1024  # bytes of a JSON body
MAX_PROJECTION_STEPS = 1000  # optimisation steps of one projected upload
CLIENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
UPLOAD_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")  # Pillow's names; nothing else decodes
UPLOAD_TYPES = {"image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif",
                "application/octet-stream"}


class BadRequest(GankitError):
    """A request the studio refuses: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def one(query: dict, name: str, default: str | None = None, required: bool = False) -> str | None:
    """The single value of parameter ``name`` (a repeated parameter is refused)."""
    values = query.get(name)
    if not values:
        if required:
            raise BadRequest(f"missing parameter '{name}'")
        return default
    if len(values) > 1:
        raise BadRequest(f"parameter '{name}' given {len(values)} times; give it once")
    value = values[0]
    if len(value) > MAX_TEXT:
        raise BadRequest(f"parameter '{name}' is too long (at most {MAX_TEXT} characters)")
    return value


def integer(query: dict, name: str, default: int | None, lo: int, hi: int) -> int | None:
    text = one(query, name)
    if text is None:
        return default
    return check_int(text, name, lo, hi)


def check_int(text, name: str, lo: int, hi: int) -> int:
    if isinstance(text, bool):
        raise BadRequest(f"'{name}': expected a whole number from {lo} to {hi}")
    if isinstance(text, int):
        value = text
    else:
        text = str(text).strip()
        if not re.fullmatch(r"-?\d{1,20}", text):
            raise BadRequest(f"'{name}' {text[:40]!r}: expected a whole number from {lo} to {hi}")
        value = int(text)
    if not lo <= value <= hi:
        raise BadRequest(f"'{name}' {value}: must be from {lo} to {hi}")
    return value


def number(query: dict, name: str, default: float | None, lo: float, hi: float,
           lo_open: bool = False) -> float | None:
    text = one(query, name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"'{name}' {text[:40]!r}: expected a number") from None
    if not math.isfinite(value):
        raise BadRequest(f"'{name}' {text[:40]!r}: must be a finite number")
    if value < lo or value > hi or (lo_open and value == lo):
        rng = f"{'above' if lo_open else 'from'} {lo:g} {'and at most' if lo_open else 'to'} {hi:g}"
        raise BadRequest(f"'{name}' {value:g}: must be {rng}")
    return value


#: the most classes a class-conditional run has (gankit.dataload.MAX_CLASSES)
MAX_CLASS_INDEX = 999


def class_pick(query: dict):
    """``class`` (an index), optionally ``class_b`` and ``mix`` (0..1, how much of
    class_b): ``(a, b, mix)``, or None when no class is asked for."""
    a = integer(query, "class", None, 0, MAX_CLASS_INDEX)
    b = integer(query, "class_b", None, 0, MAX_CLASS_INDEX)
    mix = number(query, "mix", 0.0, 0.0, 1.0)
    if a is None:
        if b is not None:
            raise BadRequest("'class_b' needs 'class' (the class it is mixed with)")
        return None
    return (a, b, mix if b is not None else 0.0)


def flag(query: dict, name: str, default: bool = False) -> bool:
    text = one(query, name)
    if text is None:
        return default
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off", ""):
        return False
    raise BadRequest(f"'{name}' {text[:40]!r}: expected 1 or 0")


def choice(query: dict, name: str, choices, default: str) -> str:
    text = one(query, name, default)
    if text not in choices:
        raise BadRequest(f"'{name}' {text[:40]!r}: choose one of {', '.join(choices)}")
    return text


PROJECTION_RE = re.compile(r"p[1-9][0-9]{0,8}")  # a projected picture's id: p1, p2, ...


def seed_list(text: str, name: str = "seeds", max_count: int = MAX_SAMPLES,
              projections: bool = False) -> list:
    """``"0-15"``, ``"3,17,42"`` or a mix, each seed in [0, 2**63), at most ``max_count``;
    with ``projections`` also ids of projected pictures (``p1``, kept as strings).

    Ranges are counted before they are expanded, so ``0-99999999999`` is refused at once
    instead of building a list of a hundred billion numbers.
    """
    seeds: list[int] = []
    text = (text or "").strip()
    if not text:
        raise BadRequest(f"'{name}': no seeds (e.g. 0-15 or 3,17,42)")
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if projections and PROJECTION_RE.fullmatch(part):
            if len(seeds) + 1 > max_count:
                raise BadRequest(f"'{name}': at most {max_count} seeds per request")
            seeds.append(part)
            continue
        m = re.fullmatch(r"(\d{1,20})(?:\s*-\s*(\d{1,20}))?", part)
        if not m:
            raise BadRequest(f"'{name}' {part[:40]!r}: expected seeds and ranges like 0-15 or 3,17")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        for v in (a, b):
            if v >= MAX_SEED:
                raise BadRequest(f"'{name}': seed {v} is too large (seeds are 0 to 2^63-1)")
        if b < a:
            raise BadRequest(f"'{name}' {part!r}: a range goes from low to high")
        if len(seeds) + (b - a + 1) > max_count:
            raise BadRequest(f"'{name}': at most {max_count} seeds per request")
        seeds.extend(range(a, b + 1))
    if not seeds:
        raise BadRequest(f"'{name}': no seeds (e.g. 0-15 or 3,17,42)")
    return seeds


def seeds_from_json(value, name: str, max_count: int = MAX_FIT_SEEDS) -> list[int]:
    """A JSON list of seeds (or a "0-9,12" string)."""
    if isinstance(value, str):
        return seed_list(value, name, max_count)
    if not isinstance(value, list) or not value:
        raise BadRequest(f"'{name}': expected a non-empty list of seeds")
    if len(value) > max_count:
        raise BadRequest(f"'{name}': at most {max_count} seeds")
    return [check_int(v, name, 0, MAX_SEED - 1) for v in value]


def direction_specs(query: dict, available=None) -> list[tuple[str, float]]:
    """``directions=tuna:1.5,hair:-1``: names as ``gankit.latent.check_name`` allows,
    finite strengths within +-MAX_STRENGTH, each name once, at most MAX_DIRECTIONS."""
    text = one(query, "directions", "")
    specs: list[tuple[str, float]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, strength = part.rpartition(":")
        if not sep:
            raise BadRequest(f"'directions' {part[:60]!r}: expected NAME:STRENGTH, e.g. tuna:1.5")
        try:
            check_name(name)
        except GankitError as exc:
            raise BadRequest(str(exc)) from None
        try:
            value = float(strength)
        except ValueError:
            raise BadRequest(f"'directions' {part[:60]!r}: the strength must be a number") from None
        if not math.isfinite(value) or abs(value) > MAX_STRENGTH:
            raise BadRequest(f"'directions' {part[:60]!r}: the strength must be within "
                             f"+-{MAX_STRENGTH:g}")
        if any(n == name for n, _ in specs):
            raise BadRequest(f"'directions': '{name}' given twice")
        if available is not None and name not in available:
            have = ", ".join(available) or "none"
            raise BadRequest(f"'directions': this run has no direction '{name}' (have: {have})",
                             404)
        if value != 0:
            specs.append((name, value))
        if len(specs) > MAX_DIRECTIONS:
            raise BadRequest(f"'directions': at most {MAX_DIRECTIONS} at once")
    return specs


def truncation(query: dict) -> float | None:
    return number(query, "truncation", None, MIN_TRUNCATION, MAX_TRUNCATION)


def client(query: dict) -> str | None:
    text = one(query, "client")
    if text is None:
        return None
    if not CLIENT_RE.match(text):
        raise BadRequest("'client': letters, digits, '-' or '_' (at most 40)")
    return text


def direction_name(value) -> str:
    if not isinstance(value, str):
        raise BadRequest("'name': expected a direction name such as tuna or long-hair")
    try:
        return check_name(value)
    except GankitError as exc:
        raise BadRequest(str(exc)) from None


def upload_type(content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in UPLOAD_TYPES:
        raise BadRequest(f"upload type {kind or 'missing'!r}: send a PNG, JPEG, WebP, BMP or "
                         "GIF image", 415)
    return kind


def content_length(headers, limit: int, what: str) -> int:
    raw = headers.get("Content-Length")
    if raw is None:
        raise BadRequest(f"{what}: Content-Length is required", 411)
    try:
        n = int(raw)
    except ValueError:
        raise BadRequest(f"{what}: bad Content-Length") from None
    if n < 0:
        raise BadRequest(f"{what}: bad Content-Length")
    if n > limit:
        raise BadRequest(f"{what} is {n:,} bytes; the limit is {limit:,} bytes "
                         f"({limit // (1024 * 1024) or 1} MB)" if limit >= 1024 * 1024 else
                         f"{what} is {n:,} bytes; the limit is {limit:,} bytes", 413)
    return n
