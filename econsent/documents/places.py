"""Dates, countries and sites as consent definitions write them, read with located errors."""

from __future__ import annotations

import datetime as dt
import re

from econsent.documents.codes import BAD_COUNTRY, BAD_SITE, NO_SUCH_DATE, NOT_A_DATE
from forms_dsl.errors import Problems
from forms_dsl.source import Node, Scalar, kind_of

#: ISO 3166-1 alpha-2, officially assigned codes.
_ISO_3166 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
    DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU
    GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW
    KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU
    MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA
    ZM ZW"""
COUNTRIES = frozenset(_ISO_3166.split())
#: A site code: its country, a hyphen and the site's own number or letters (FR-01).
SITE_RE = re.compile(r"([A-Z]{2})-[A-Z0-9]{1,12}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def read_date(node: Node | None, what: str, problems: Problems) -> dt.date | None:
    """A date written 2026-01-15 (E903 when it is not one, E904 for 2026-02-30)."""
    if node is None:
        return None
    text = node.text if isinstance(node, Scalar) else kind_of(node)
    if not isinstance(node, Scalar) or not _ISO_DATE.fullmatch(text):
        problems.add(NOT_A_DATE, node.loc, what=what, value=text)
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        problems.add(NO_SUCH_DATE, node.loc, what=what, value=text)
        return None


def is_site(code: str) -> bool:
    match = SITE_RE.fullmatch(code)
    return match is not None and match.group(1) in COUNTRIES


def read_country(node: Node, problems: Problems) -> str | None:
    text = node.text if isinstance(node, Scalar) else kind_of(node)
    if text in COUNTRIES:
        return text
    problems.add(BAD_COUNTRY, node.loc, value=text)
    return None


def read_site(node: Node, problems: Problems) -> str | None:
    text = node.text if isinstance(node, Scalar) else kind_of(node)
    if is_site(text):
        return text
    problems.add(BAD_SITE, node.loc, value=text)
    return None
