"""Privacy-preserving linkage tokens: how the registry finds one child registered at two sites
without ever seeing a name.

Every site computes, from the child's identifiers and the network's linkage secret (setting
`linkage_secret`, EDC_LINKAGE_SECRET; every site holds it, the registry never does), two values:

- `exact_token`: a keyed HMAC-SHA256 of the normalised identifiers. Equal tokens mean equal
  normalised identifiers; one letter apart gives unrelated tokens (checklist item 55: a keyed
  one-way function, never a plain hash a registry could recompute from a guessed name).
- `clk`: a Cryptographic Long-term Key, a 1,024-bit Bloom filter built exactly as clkhash 0.18
  builds it for a linkage schema v3 (`linkage_schema.json` beside this file), so a typo costs a
  few bits instead of the match; the registry compares two with `dice`.

This module is pure (standard library only: no Flask, no database, no project import) so that a
site, the registry's test bench or a one-off script computes the same values. clkhash itself
cannot live in the app's environment (it pins cryptography<41); tests prove this encoder
byte-identical to it by running it in its own venv (`.venv-clkhash`, made by scripts/setup).
See docs/record-linkage.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

#: The linkage schema the network agreed on (clkhash v3 JSON; parsed, never changed here).
LINKAGE_SCHEMA: Mapping[str, Any] = json.loads(
    (Path(__file__).with_name("linkage_schema.json")).read_text(encoding="utf-8")
)

#: Names longer than this are refused before any work (the identity form allows far less).
MAX_NAME_LENGTH = 200
#: A shorter secret could be guessed, and with it every name behind every token.
MIN_SECRET_LENGTH = 16
#: Versions the canonical string of the exact token: a change of rules is a new version, and
#: tokens of two versions never compare equal by accident.
CANONICAL_VERSION = "edc-linkage-exact/1"
#: The HKDF `info` label of the exact token's key: the same secret used for anything else (the
#: CLK's keys included, whose label is in the schema) gives unrelated keys.
_EXACT_KEY_LABEL = b"siopen-edc registry linkage: exact token key v1"

#: Letters NFKD leaves whole, spelled as a registrar without the key would type them.
_LETTER_SPELLINGS = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ł": "l",
        "ı": "i",
        "ħ": "h",
        "ŧ": "t",
        "ŋ": "n",
        "ĸ": "k",
    }
)
#: Apostrophes join: O'Brien, O’Brien and OBrien are one name. Removed before NFKD, which
#: would turn ´ into a space and a mark, and before the letter test (ʼ and ʻ are letters).
_NO_APOSTROPHES = str.maketrans(dict.fromkeys("'’ʼ‘`´ʻ′"))
_SEXES = {"female": "f", "f": "f", "male": "m", "m": "m", "undetermined": "u", "u": "u"}


class LinkageInputError(ValueError):
    """The identifiers, the secret or the schema cannot give a linkage value."""


@dataclass(frozen=True)
class LinkageInput:
    """The identifiers linkage is computed from, as the site holds them (not yet normalised).

    `sex` is the portal's value (`female`, `male`, `undetermined`) or its initial.
    """

    family_name: str
    given_names: str
    date_of_birth: date
    sex: str


# --- normalisation -------------------------------------------------------------------------------


def normalise_name(text: str) -> str:
    """The spelling of a name every site of the network agrees on, so that the same child gives
    the same value whoever typed it.

    Rules, in order:
    1. apostrophes (' ’ ʼ ‘ ` ´ ʻ ′) are deleted: O'Brien = OBrien;
    2. case-fold, then Unicode NFKD (ligatures and full-width letters become plain letters, "İ"
       becomes "i" plus a dot that step 4 drops);
    3. letters NFKD keeps whole are spelled out: ß→ss, æ→ae, œ→oe, ø→o, đ/ð→d, þ→th, ł→l,
       ı→i, ħ→h, ŧ→t, ŋ→n, ĸ→k;
    4. combining marks (accents; also vowel signs of abugidas) are dropped;
    5. every other run of non-letters (hyphen, space, dot, digit…) is one word boundary, kept as
       a single space (Marie-Claire = Marie  Claire = marie claire).
    Letters of any script are kept as they are: a name is never transliterated, so sites must
    record it in the same script (dropping them would make every Cyrillic name equal).
    """
    if len(text) > MAX_NAME_LENGTH:
        raise LinkageInputError(f"a name longer than {MAX_NAME_LENGTH} characters")
    joined = text.translate(_NO_APOSTROPHES).casefold()
    decomposed = unicodedata.normalize("NFKD", joined).translate(_LETTER_SPELLINGS)
    kept: list[str] = []
    for char in decomposed:
        if char.isalpha():
            kept.append(char)
        elif unicodedata.category(char).startswith("M"):
            continue
        elif kept and kept[-1] != " ":
            kept.append(" ")
    return "".join(kept).strip()


def normalise_sex(value: str) -> str:
    """`f`, `m` or `u`: the portal's sex values (or their initials) as the schema's enum."""
    try:
        return _SEXES[value.strip().casefold()]
    except KeyError:
        raise LinkageInputError(f"unknown sex {value!r}") from None


def _normalised(person: LinkageInput) -> tuple[str, str, date, str]:
    """(family, given, birth date, sex) normalised; refused without a family name, since a
    token of birth date and sex alone would link unrelated children."""
    if not isinstance(person.date_of_birth, date):
        raise LinkageInputError("the date of birth must be a date")
    family = normalise_name(person.family_name)
    if not family:
        raise LinkageInputError("a family name with at least one letter is needed")
    given = normalise_name(person.given_names)
    birth = person.date_of_birth
    if isinstance(birth, datetime):
        birth = birth.date()
    return family, given, birth, normalise_sex(person.sex)


def _secret_bytes(secret: str) -> bytes:
    """The secret as clkhash reads it (UTF-8), refused when unset or too short to resist
    guessing."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise LinkageInputError(f"the linkage secret needs at least {MIN_SECRET_LENGTH} characters")
    return secret.encode("utf-8")


# --- key derivation ------------------------------------------------------------------------------


def hkdf(secret: bytes, length: int, salt: bytes | None, info: bytes, hash_name: str) -> bytes:
    """HKDF (RFC 5869), extract then expand: keys for one purpose tell nothing of another's.

    A missing salt is HashLen zero bytes, as the RFC (and clkhash, through `cryptography`) has it.
    """
    digest_size = hashlib.new(hash_name).digest_size
    if length > 255 * digest_size:
        raise LinkageInputError("HKDF cannot give that many bytes")
    prk = hmac.new(salt or bytes(digest_size), secret, hash_name).digest()
    blocks: list[bytes] = []
    previous = b""
    for counter in range(1, math.ceil(length / digest_size) + 1):
        previous = hmac.new(prk, previous + info + bytes([counter]), hash_name).digest()
        blocks.append(previous)
    return b"".join(blocks)[:length]


# --- the exact token -----------------------------------------------------------------------------


def exact_token(secret: str, person: LinkageInput) -> str:
    """64 hex characters: HMAC-SHA256, under a key derived from the network secret, of the
    versioned canonical string of the normalised identifiers.

    Fields are joined with U+001F (unit separator), which a normalised name cannot contain, so
    no two different identities share a canonical string.
    """
    family, given, birth, sex = _normalised(person)
    key = hkdf(_secret_bytes(secret), 32, None, _EXACT_KEY_LABEL, "sha256")
    canonical = "\x1f".join((CANONICAL_VERSION, family, given, birth.isoformat(), sex))
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


# --- the CLK (clkhash 0.18, linkage schema v3) ---------------------------------------------------


@dataclass(frozen=True)
class _Feature:
    """One feature of a linkage schema, as clkhash reads it (`hashing` is None when ignored)."""

    identifier: str
    format: Mapping[str, Any]
    hashing: Mapping[str, Any] | None

    @property
    def encoding(self) -> str:
        """Only a string feature names its encoding; clkhash encodes the others as UTF-8."""
        if self.format.get("type") == "string":
            return str(self.format.get("encoding", "utf-8"))
        return "utf-8"


@dataclass(frozen=True)
class _Schema:
    """The parts of a linkage schema v3 the encoding depends on."""

    length: int
    xor_folds: int
    hash_name: str
    salt: bytes | None
    info: bytes | None
    key_size: int
    features: tuple[_Feature, ...]


def _parse_schema(schema: Mapping[str, Any]) -> _Schema:
    """Read a v3 schema the way clkhash.schema.from_json_dict does (its defaults included: folds
    are read from `xor_folds`, which clkhash 0.18 reads although its JSON Schema says
    `xorFolds`; the KDF hash defaults to SHA256 and the key size to 64)."""
    if schema.get("version") != 3:
        raise LinkageInputError("only linkage schema version 3 is supported")
    config = schema["clkConfig"]
    kdf = config["kdf"]
    if kdf.get("type") != "HKDF":
        raise LinkageInputError("only the HKDF key derivation is supported")
    features = []
    for spec in schema["features"]:
        if spec.get("ignored", False):
            features.append(_Feature(spec["identifier"], {}, None))
        else:
            features.append(_Feature(spec["identifier"], spec["format"], spec["hashing"]))
    return _Schema(
        length=int(config["l"]),
        xor_folds=int(config.get("xor_folds", 0)),
        hash_name={"SHA256": "sha256", "SHA512": "sha512"}[kdf.get("hash", "SHA256")],
        salt=base64.b64decode(kdf["salt"]) if "salt" in kdf else None,
        info=base64.b64decode(kdf["info"]) if "info" in kdf else None,
        key_size=int(kdf.get("keySize", 64)),
        features=tuple(features),
    )


def _feature_keys(secret: bytes, parsed: _Schema) -> list[tuple[bytes, bytes]]:
    """Two keys per feature (ignored ones too, as clkhash counts them): the first keys the
    HMAC-SHA1, the second the HMAC-MD5 of the double hashing."""
    size = parsed.key_size
    material = hkdf(
        secret, 2 * size * len(parsed.features), parsed.salt, parsed.info or b"", parsed.hash_name
    )
    return [
        (
            material[2 * i * size : (2 * i + 1) * size],
            material[(2 * i + 1) * size : (2 * i + 2) * size],
        )
        for i in range(len(parsed.features))
    ]


def _check_value(feature: _Feature, value: str) -> None:
    """Refuse a value clkhash's validation would refuse, so that a value never silently hashes
    differently here and there."""
    fmt = feature.format
    kind = fmt.get("type")
    try:
        value.encode(feature.encoding)
    except UnicodeEncodeError:
        raise LinkageInputError(f"{feature.identifier}: not encodable") from None
    if kind == "string" and "pattern" in fmt:
        ok = re.fullmatch(fmt["pattern"], value) is not None
    elif kind == "string":
        case = fmt.get("case", "mixed")
        ok = (
            len(value) >= fmt.get("minLength", 0)
            and len(value) <= fmt.get("maxLength", len(value))
            and (case != "lower" or value.lower() == value)
            and (case != "upper" or value.upper() == value)
        )
    elif kind == "enum":
        ok = value in fmt["values"]
    elif kind == "integer":
        number = _parse_int(value)
        ok = number is not None and (
            fmt.get("minimum", -math.inf) <= number <= fmt.get("maximum", math.inf)
        )
    elif kind == "date":
        ok = _parse_date(value, fmt["format"]) is not None
    else:
        ok = False
    if not ok:
        raise LinkageInputError(f"{feature.identifier}: value does not fit the schema")


def _parse_int(value: str) -> int | None:
    """The integer `value` as Python (and so clkhash) reads it, or None when it is none."""
    try:
        return int(value, base=10)
    except ValueError:
        return None


def _parse_date(value: str, fmt: str) -> datetime | None:
    """The date `value` in `fmt`, or None when it is none."""
    try:
        return datetime.strptime(value, fmt)
    except ValueError:
        return None


def _formatted(feature: _Feature, value: str) -> str:
    """What clkhash tokenises: a missing-value sentinel's replacement, an integer without sign
    or padding noise, a date as its eight digits YYYYMMDD; anything else unchanged."""
    assert feature.hashing is not None
    missing = feature.hashing.get("missingValue")
    if missing is not None and value == missing["sentinel"]:
        return str(missing.get("replaceWith", missing["sentinel"]))
    _check_value(feature, value)
    kind = feature.format.get("type")
    if kind == "integer":
        return str(int(value, base=10))
    if kind == "date":
        parsed = _parse_date(value, feature.format["format"])
        assert parsed is not None
        return parsed.strftime("%Y%m%d")
    return value


def _tokens(comparison: Mapping[str, Any], text: str) -> list[str]:
    """clkhash's tokenisers: n-grams padded with n-1 spaces each side (none for n=1), prefixed
    with their 1-based position and a space when positional; the whole text for `exact`.
    Duplicates stay: they count when a feature's bits are shared out."""
    if not text:
        return []
    kind = comparison.get("type")
    if kind == "exact":
        return [text]
    if kind != "ngram":
        raise LinkageInputError(f"comparison {kind!r} is not supported")
    n = int(comparison["n"])
    padded = " " * (n - 1) + text + " " * (n - 1) if n > 1 else text
    grams = [padded[i : i + n] for i in range(len(padded) - n + 1)]
    if comparison.get("positional", False):
        return [f"{i + 1} {gram}" for i, gram in enumerate(grams)]
    return grams


def _bits_per_token(strategy: Mapping[str, Any], count: int) -> list[int]:
    """How often each token is inserted: `bitsPerToken` each, or `bitsPerFeature` shared out
    with the remainder going one each to the first tokens (clkhash's order)."""
    if "bitsPerToken" in strategy:
        return [int(strategy["bitsPerToken"])] * count
    total = int(strategy["bitsPerFeature"])
    share, remainder = divmod(total, count)
    return [share + 1] * remainder + [share] * (count - remainder)


def _double_hash_steps(
    token: bytes, keys: tuple[bytes, bytes], length: int, non_singular: bool
) -> tuple[int, int]:
    """(start, step) of Schnell's double hashing: HMAC-SHA1 and HMAC-MD5 of the token, read as
    big-endian integers, modulo the filter length. With `prevent_singularity` a step of 0
    (every insertion on one bit) is redrawn from the MD5 HMAC of the token followed by
    chr(0), chr(1), … in UTF-8, as clkhash does."""
    key_sha1, key_md5 = keys
    start = int.from_bytes(hmac.new(key_sha1, token, hashlib.sha1).digest(), "big") % length
    step = int.from_bytes(hmac.new(key_md5, token, hashlib.md5).digest(), "big") % length
    attempt = 0
    while non_singular and step == 0:
        salted = token + chr(attempt).encode("utf-8")
        step = int.from_bytes(hmac.new(key_md5, salted, hashlib.md5).digest(), "big") % length
        attempt += 1
    return start, step


def _feature_bits(feature: _Feature, value: str, keys: tuple[bytes, bytes], length: int) -> int:
    """The bits one feature sets, as an integer whose most significant of `length` bits is the
    filter's bit 0 (clkhash's bitarray order)."""
    hashing = feature.hashing
    assert hashing is not None
    hash_spec = hashing.get("hash", {"type": "blakeHash"})
    if hash_spec.get("type") != "doubleHash":
        raise LinkageInputError(f"hash {hash_spec.get('type')!r} is not supported")
    tokens = _tokens(hashing["comparison"], _formatted(feature, value))
    if not tokens:
        return 0
    non_singular = bool(hash_spec.get("prevent_singularity", False))
    bits = 0
    for token, k in zip(tokens, _bits_per_token(hashing["strategy"], len(tokens)), strict=True):
        start, step = _double_hash_steps(token.encode(feature.encoding), keys, length, non_singular)
        for i in range(k):
            bits |= 1 << (length - 1 - (start + i * step) % length)
    return bits


def encode_row(secret: str, row: Sequence[str], schema: Mapping[str, Any]) -> bytes:
    """The CLK of one record given as clkhash reads a CSV row (one string per schema feature,
    ignored ones included), as the bytes of clkhash's `bitarray.tobytes()`: bit 0 of the filter
    is the most significant bit of the first byte.

    Only what clkhash 0.18 does for `doubleHash` is supported (the `blakeHash` and numeric
    comparisons are refused rather than guessed)."""
    parsed = _parse_schema(schema)
    if len(row) != len(parsed.features):
        raise LinkageInputError("the row does not have one value per schema feature")
    hashed_length = parsed.length * 2**parsed.xor_folds
    keys = _feature_keys(_secret_bytes(secret), parsed)
    bits = 0
    for feature, value, feature_keys in zip(parsed.features, row, keys, strict=True):
        if feature.hashing is not None:
            bits |= _feature_bits(feature, value, feature_keys, hashed_length)
    for _ in range(parsed.xor_folds):
        hashed_length //= 2
        bits = (bits >> hashed_length) ^ (bits & ((1 << hashed_length) - 1))
    padding = -hashed_length % 8
    return (bits << padding).to_bytes((hashed_length + padding) // 8, "big")


def feature_values(person: LinkageInput, schema: Mapping[str, Any] = LINKAGE_SCHEMA) -> list[str]:
    """The row a site would hand to clkhash for `person`: normalised names, the birth date in the
    schema's date format, the sex as the enum letter. An ignored feature gets ""."""
    family, given, birth, sex = _normalised(person)
    known = {"family_name": family, "given_names": given, "sex": sex}
    row = []
    for feature in _parse_schema(schema).features:
        if feature.hashing is None:
            row.append("")
        elif feature.identifier == "date_of_birth":
            row.append(birth.strftime(feature.format.get("format", "%Y-%m-%d")))
        elif feature.identifier in known:
            row.append(known[feature.identifier])
        else:
            raise LinkageInputError(f"no identifier for schema feature {feature.identifier!r}")
    return row


def clk(secret: str, person: LinkageInput, schema: Mapping[str, Any] = LINKAGE_SCHEMA) -> bytes:
    """The CLK of `person` (128 bytes for the network's 1,024-bit schema): similar identifiers
    give similar filters, which `dice` measures."""
    return encode_row(secret, feature_values(person, schema), schema)


def dice(a: bytes, b: bytes) -> float:
    """Dice coefficient of two CLKs, 2·|A∧B| / (|A|+|B|): 1.0 for equal filters, about the fill
    rate for unrelated ones; 0.0 when both are empty."""
    if len(a) != len(b):
        raise LinkageInputError("CLKs of different lengths cannot be compared")
    left, right = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    total = left.bit_count() + right.bit_count()
    return 0.0 if total == 0 else 2 * (left & right).bit_count() / total
