"""Linkage tokens: the normalisation every site agrees on, the keyed exact token, the CLK and its
Dice similarity, and proof that the CLK is byte for byte what clkhash 0.18.3 computes."""

from __future__ import annotations

import base64
import copy
import itertools
import json
import random
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edc.registry import linkage
from edc.registry.linkage import (
    LINKAGE_SCHEMA,
    LinkageInput,
    LinkageInputError,
    clk,
    dice,
    encode_row,
    exact_token,
    feature_values,
    normalise_name,
    normalise_sex,
)

SECRET = "network-linkage-secret-for-tests-0123456789"
OTHER_SECRET = "another-network-secret-9876543210"
ROOT = Path(__file__).resolve().parents[3]
CLKHASH_PYTHON = ROOT / ".venv-clkhash" / "bin" / "python"
ORACLE = Path(__file__).with_name("clkhash_oracle.py")

LEA = LinkageInput("Dupont", "Léa", date(2024, 3, 15), "female")


# --- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("Léa", "lea"),
        ("LÉA", "lea"),
        ("Marie-Claire", "marie claire"),
        ("Marie  Claire", "marie claire"),
        (" marie - claire ", "marie claire"),
        ("O'Brien", "obrien"),
        ("O’Brien", "obrien"),
        ("O´Brien", "obrien"),
        ("Oʼneil", "oneil"),
        ("Hawaiʻi", "hawaii"),
        ("D'Angelo", "dangelo"),
        ("Straße", "strasse"),
        ("STRASSE", "strasse"),
        ("Ærøskøbing", "aeroskobing"),
        ("Œdipe", "oedipe"),
        ("Łukasz", "lukasz"),
        ("Đorđević", "dordevic"),
        ("Nguyễn", "nguyen"),
        ("İlknur", "ilknur"),
        ("Iļja", "ilja"),
        ("ﬁfi", "fifi"),
        ("Ｊｕｌｅｓ", "jules"),
        ("Jean-Baptiste II.", "jean baptiste ii"),
        ("Anne 2", "anne"),
        ("Пётр", "петр"),
        ("", ""),
        ("--", ""),
    ],
)
def test_names_are_normalised_as_the_network_agreed(typed: str, normalised: str) -> None:
    assert normalise_name(typed) == normalised


def test_a_name_in_another_script_is_kept_not_dropped() -> None:
    """Dropping non-Latin letters would make every Cyrillic or Greek name equal."""
    assert normalise_name("Пётр") != normalise_name("Иван")
    assert normalise_name("Σοφία") == "σοφια"


def test_an_overlong_name_is_refused_before_any_work() -> None:
    with pytest.raises(LinkageInputError):
        normalise_name("a" * (linkage.MAX_NAME_LENGTH + 1))


@pytest.mark.parametrize(
    ("value", "letter"),
    [("female", "f"), ("male", "m"), ("undetermined", "u"), ("F", "f"), (" M ", "m")],
)
def test_the_portals_sex_values_map_to_the_schema_enum(value: str, letter: str) -> None:
    assert normalise_sex(value) == letter


def test_an_unknown_sex_is_refused() -> None:
    with pytest.raises(LinkageInputError):
        normalise_sex("x")


# --- the exact token -----------------------------------------------------------------------------


def test_the_exact_token_is_64_hex_characters_and_stable() -> None:
    token = exact_token(SECRET, LEA)
    assert len(token) == 64
    assert int(token, 16) >= 0
    assert exact_token(SECRET, LEA) == token
    # Pinned: a change here silently breaks matching against every token already sent.
    assert token == "0ad1a68f72da1e896fc0b9ccb8099ee166bf547ff51cdc83a4fa620368530951"


def test_the_clk_is_pinned() -> None:
    """A change of normalisation, schema or encoder shows here before it breaks matching."""
    assert base64.b64encode(clk(SECRET, LEA)).decode() == (
        "kVNgqDRBAMwBNgbV9V0yHQEXAEBOQAAFZoF2GmcBwSUpNjFCUFDFhWQJRZAAhH4ySuohGxcUQAJAQAUBHSRmAyUu"
        "QgGBMwgjwwHYOqq7cREEEII0DGMJ8TGAkUhkSxBBkV4MABOEYVgSUZInEEbKUAECI0FhCEN9guEJ4hSAEQE="
    )


def test_the_same_child_typed_differently_gets_the_same_token() -> None:
    typed_elsewhere = LinkageInput("DUPONT", "  LEA ", date(2024, 3, 15), "F")
    assert exact_token(SECRET, typed_elsewhere) == exact_token(SECRET, LEA)
    hyphen = LinkageInput("Martin", "Marie-Claire", date(2023, 1, 2), "female")
    space = LinkageInput("martin", "Marie Claire", date(2023, 1, 2), "female")
    assert exact_token(SECRET, hyphen) == exact_token(SECRET, space)


def test_the_exact_token_is_keyed() -> None:
    """Without the secret nobody, the registry included, can recompute a token from a guess."""
    assert exact_token(OTHER_SECRET, LEA) != exact_token(SECRET, LEA)


@pytest.mark.parametrize(
    "other",
    [
        LinkageInput("Dupond", "Léa", date(2024, 3, 15), "female"),
        LinkageInput("Dupont", "Léo", date(2024, 3, 15), "female"),
        LinkageInput("Dupont", "Léa", date(2024, 3, 16), "female"),
        LinkageInput("Dupont", "Léa", date(2024, 3, 15), "undetermined"),
        # The fields cannot slide into each other.
        LinkageInput("Léa", "Dupont", date(2024, 3, 15), "female"),
    ],
)
def test_different_identifiers_give_different_tokens(other: LinkageInput) -> None:
    assert exact_token(SECRET, other) != exact_token(SECRET, LEA)


@pytest.mark.parametrize("secret", ["", "short-secret"])
def test_no_token_without_a_real_secret(secret: str) -> None:
    with pytest.raises(LinkageInputError):
        exact_token(secret, LEA)
    with pytest.raises(LinkageInputError):
        clk(secret, LEA)


def test_no_token_without_a_family_name() -> None:
    """Birth date and sex alone would link unrelated children."""
    with pytest.raises(LinkageInputError):
        exact_token(SECRET, LinkageInput("--", "Léa", date(2024, 3, 15), "female"))


def test_an_unnamed_newborn_still_gets_tokens() -> None:
    baby = LinkageInput("Dupont", "", date(2024, 3, 15), "female")
    assert len(exact_token(SECRET, baby)) == 64
    assert feature_values(baby)[0] == ""
    assert dice(clk(SECRET, baby), clk(SECRET, LEA)) > 0.6


# --- the CLK -------------------------------------------------------------------------------------


def test_the_clk_is_1024_bits() -> None:
    assert len(clk(SECRET, LEA)) == 128
    assert clk(SECRET, LEA) == clk(SECRET, LEA)
    assert clk(OTHER_SECRET, LEA) != clk(SECRET, LEA)


def test_a_typo_keeps_the_clks_close() -> None:
    typo = LinkageInput("Dupond", "Lea", date(2024, 3, 15), "female")
    assert dice(clk(SECRET, LEA), clk(SECRET, typo)) >= 0.8


def test_unrelated_children_stay_well_below() -> None:
    rng = random.Random(7)
    people = _people(rng, 60)
    scores = [
        dice(clk(SECRET, a), clk(SECRET, b))
        for a, b in itertools.pairwise(people)
        if _unrelated(a, b)
    ]
    assert len(scores) > 40
    assert max(scores) < 0.65


def _unrelated(a: LinkageInput, b: LinkageInput) -> bool:
    return (
        normalise_name(a.family_name) != normalise_name(b.family_name)
        and normalise_name(a.given_names) != normalise_name(b.given_names)
        and a.date_of_birth != b.date_of_birth
    )


def test_dice() -> None:
    assert dice(b"\x00\x00", b"\x00\x00") == 0.0
    assert dice(b"\xff\x00", b"\xff\x00") == 1.0
    assert dice(b"\xf0\x00", b"\x0f\x00") == 0.0
    assert dice(b"\xff\x00", b"\xf0\x00") == pytest.approx(2 * 4 / 12)
    with pytest.raises(LinkageInputError):
        dice(b"\x00", b"\x00\x00")


_NAMES = st.text(alphabet=st.characters(categories=("Lu", "Ll")), min_size=4, max_size=30).filter(
    lambda name: len(normalise_name(name)) >= 4
)


@settings(max_examples=60, deadline=None)
@given(family=_NAMES, given_names=_NAMES)
def test_no_encoding_of_a_name_shows_in_a_token(family: str, given_names: str) -> None:
    """Neither value carries a name's bytes, as typed or normalised: not raw, not in hex, not in
    base64 (each compared with the same encoding of the token and of the CLK)."""
    person = LinkageInput(family, given_names, date(2024, 3, 15), "female")
    token, bits = bytes.fromhex(exact_token(SECRET, person)), clk(SECRET, person)
    for name in (family, given_names, normalise_name(family), normalise_name(given_names)):
        raw = name.encode("utf-8")
        for value in (token, bits):
            assert raw not in value
            assert raw.hex() not in value.hex()
            assert (
                base64.b64encode(raw).decode().rstrip("=") not in base64.b64encode(value).decode()
            )


# --- known answers published elsewhere -----------------------------------------------------------


@pytest.mark.parametrize(
    ("ikm", "salt", "info", "length", "okm"),
    [
        # RFC 5869, appendix A, test cases 1 to 3 (SHA-256).
        (
            "0b" * 22,
            "000102030405060708090a0b0c",
            "f0f1f2f3f4f5f6f7f8f9",
            42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (
            bytes(range(0x00, 0x50)).hex(),
            bytes(range(0x60, 0xB0)).hex(),
            bytes(range(0xB0, 0x100)).hex(),
            82,
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87",
        ),
        (
            "0b" * 22,
            "",
            "",
            42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ],
)
def test_hkdf_matches_rfc_5869(ikm: str, salt: str, info: str, length: int, okm: str) -> None:
    derived = linkage.hkdf(
        bytes.fromhex(ikm), length, bytes.fromhex(salt) or None, bytes.fromhex(info), "sha256"
    )
    assert derived.hex() == okm


@pytest.mark.parametrize(("token", "singular"), [("635", True), ("1402", True), ("666", False)])
def test_double_hashing_singularities_as_clkhash_tests_them(token: str, singular: bool) -> None:
    """clkhash's own test (tests/test_bloomfilter.py, test_double_hash_singularity): with keys
    secret1/secret2 and l=1024, "635" and "1402" land on one bit unless prevent_singularity."""
    keys = (b"secret1", b"secret2")
    _, step = linkage._double_hash_steps(token.encode(), keys, 1024, non_singular=False)
    assert (step == 0) is singular
    _, fixed_step = linkage._double_hash_steps(token.encode(), keys, 1024, non_singular=True)
    assert fixed_step != 0
    if not singular:
        assert fixed_step == step


# --- byte-identical to clkhash 0.18.3 (run in .venv-clkhash) -------------------------------------

_GIVEN = [
    "Léa", "Chloé", "Noé", "Jean-Baptiste", "Zoë", "Inès", "Björn", "Søren", "Łukasz", "Maël",
    "Anaïs", "Marie Claire", "Œnone", "Çağla", "Nguyễn Văn", "Ætheldreda", "Grzegorz", "Ἀλέξανδρος",
    "Пётр", "D'Arcy", "Þórunn", "Ðặng", "Hugo",
]  # fmt: skip
_FAMILY = [
    "Dupont", "Müller", "Ødegård", "García Márquez", "O’Brien", "Kowalski", "Straße", "Dubois",
    "Van der Berg", "Smith-Jones", "Đorđević", "İnönü", "Schröder", "Ōtsuka", "Lefèvre", "Ng",
]  # fmt: skip


def _typo(rng: random.Random, name: str) -> str:
    """One slip of a registrar: a letter dropped, doubled, swapped or replaced."""
    if len(name) < 3:
        return name
    i = rng.randrange(1, len(name) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return name[:i] + name[i + 1 :]
    if kind == 1:
        return name[:i] + name[i] + name[i:]
    if kind == 2:
        return name[: i - 1] + name[i] + name[i - 1] + name[i + 1 :]
    return name[:i] + rng.choice("aeiouyéèß") + name[i + 1 :]


def _people(rng: random.Random, count: int) -> list[LinkageInput]:
    people = []
    for _ in range(count):
        family, given_names = rng.choice(_FAMILY), rng.choice(_GIVEN)
        if rng.random() < 0.4:
            family = _typo(rng, family)
        if rng.random() < 0.3:
            given_names = _typo(rng, given_names)
        if rng.random() < 0.05:
            given_names = ""  # a newborn not yet named
        born = date(2019, 1, 1) + timedelta(days=rng.randrange(2400))
        sex = rng.choice(["female", "male", "undetermined", "F", "m"])
        people.append(LinkageInput(family, given_names, born, sex))
    return people


def _clkhash(secret: str, schema: object, rows: list[list[str]]) -> tuple[dict, list[bytes]]:
    """clkhash's schema and CLKs for `rows`, from its own venv."""
    if not CLKHASH_PYTHON.exists():
        pytest.skip("no .venv-clkhash: run scripts/setup")
    request = json.dumps({"secret": secret, "schema": schema, "rows": rows})
    done = subprocess.run(
        [str(CLKHASH_PYTHON), str(ORACLE)],
        input=request,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer = json.loads(done.stdout)
    return answer["schema"], [base64.b64decode(value) for value in answer["clks"]]


def test_our_clks_are_clkhashs_for_the_network_schema() -> None:
    people = _people(random.Random(2024), 200)
    rows = [feature_values(person) for person in people]
    _, reference = _clkhash(SECRET, LINKAGE_SCHEMA, rows)
    ours = [clk(SECRET, person) for person in people]
    mismatches = [rows[i] for i, (a, b) in enumerate(zip(ours, reference, strict=True)) if a != b]
    assert not mismatches
    assert len(set(ours)) > 150


def test_our_encoder_is_clkhashs_for_its_example_schema() -> None:
    """clkhash's shipped schema: an ignored column (which still takes keys), bitsPerToken,
    mixed-case UTF-8 bigrams, positional unigrams of a date, no singularity prevention."""
    people = _people(random.Random(61), 120)
    rows = [
        [
            str(i),
            f"{p.given_names} {p.family_name}".strip(),
            p.date_of_birth.strftime("%Y/%m/%d"),
            "F" if normalise_sex(p.sex) == "f" else "M",
        ]
        for i, p in enumerate(people)
    ]
    schema, reference = _clkhash(SECRET, "randomnames", rows)
    assert [encode_row(SECRET, row, schema) for row in rows] == reference


def test_our_encoder_is_clkhashs_for_the_rarer_options() -> None:
    """XOR folding, SHA-512 HKDF without salt, a 512-bit filter, positional bigrams, integers
    with a missing-value sentinel, another date format, an exact enum by bitsPerToken."""
    schema = copy.deepcopy(dict(LINKAGE_SCHEMA))
    schema["clkConfig"] = {
        "l": 512,
        "xor_folds": 1,
        "kdf": {"type": "HKDF", "hash": "SHA512", "info": "b3RoZXI=", "keySize": 32},
    }
    schema["features"] = [
        *schema["features"][:2],
        {
            "identifier": "birth_weight",
            "format": {"type": "integer", "minimum": 0},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2, "positional": True},
                "strategy": {"bitsPerToken": 7},
                "hash": {"type": "doubleHash"},
                "missingValue": {"sentinel": "", "replaceWith": "unknown"},
            },
        },
        {
            "identifier": "date_of_birth",
            "format": {"type": "date", "format": "%d/%m/%Y"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 3},
                "strategy": {"bitsPerFeature": 61},
                "hash": {"type": "doubleHash", "prevent_singularity": False},
            },
        },
        {"identifier": "hospital_number", "ignored": True},
        {
            "identifier": "sex",
            "format": {"type": "enum", "values": ["f", "m", "u"]},
            "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 13}},
        },
    ]
    schema["features"][-1]["hashing"]["hash"] = {"type": "doubleHash"}
    rng = random.Random(5)
    people = _people(rng, 80)
    rows = []
    for person in people:
        given_names, family, _, sex = feature_values(person)
        weight = rng.choice(["", "3250", "+980", "0042"])
        born = person.date_of_birth.strftime("%d/%m/%Y")
        rows.append([given_names, family, weight, born, "NHS-1", sex])
    _, reference = _clkhash(SECRET, schema, rows)
    assert [encode_row(SECRET, row, schema) for row in rows] == reference


def test_a_value_clkhash_would_refuse_is_refused() -> None:
    row = feature_values(LEA)
    for bad in (
        ["marie-claire", *row[1:]],
        ["lea ", *row[1:]],
        [*row[:3], "x"],
        [*row[:2], "15/03/2024", row[3]],
    ):
        with pytest.raises(LinkageInputError):
            encode_row(SECRET, bad, LINKAGE_SCHEMA)


def _singular_names() -> list[str]:
    """Names (of Latin, Greek or Cyrillic letters) one of whose bigrams the plain double hashing
    would put on a single bit under SECRET: the case `prevent_singularity` redraws."""
    letters = (
        "abcdefghijklmnopqrstuvwxyz"
        + "αβγδεζηθικλμνξοπρστυφχψω"
        + "абвгдежзийклмнопрстуфхцчшщъыьэюя"
    )
    parsed = linkage._parse_schema(LINKAGE_SCHEMA)
    keys = linkage._feature_keys(SECRET.encode(), parsed)[:2]
    bigrams = [a + b for a in " " + letters for b in letters + " " if (a + b).strip()]
    names = []
    for bigram in bigrams:
        for feature_keys in keys:
            _, step = linkage._double_hash_steps(bigram.encode(), feature_keys, 1024, False)
            if step == 0:
                names.append(bigram.strip())
    return names


def test_singular_tokens_are_redrawn_as_clkhash_does() -> None:
    names = _singular_names()
    assert names
    people = [LinkageInput(name, name, date(2024, 1, 2), "male") for name in names]
    rows = [feature_values(person) for person in people]
    _, reference = _clkhash(SECRET, LINKAGE_SCHEMA, rows)
    assert [clk(SECRET, person) for person in people] == reference
