"""Error codes of the consent folder: E901–E949 for documents, E950–E979 for the rule table.
Keys, kinds, ids and missing translations keep the forms' own codes (E201–E225), so an author
sees one wording for one kind of mistake wherever it is."""

from __future__ import annotations

from forms_dsl.errors import ErrorCode

# -- documents -----------------------------------------------------------------------------------
UNKNOWN_AUDIENCE = ErrorCode("E901", "`{value}` is not an audience", "{hint}")
UNKNOWN_OPTION = ErrorCode("E902", "`{value}` is not an optional item", "{hint}")
NOT_A_DATE = ErrorCode(
    "E903", "{what} `{value}` is not a date", "write it as year-month-day, e.g. 2026-01-15"
)
NO_SUCH_DATE = ErrorCode(
    "E904", "{what} `{value}` is a day the calendar does not have", "check the day and month"
)
VERSION_ORDER = ErrorCode(
    "E905",
    "version {number} follows version {previous}",
    "number versions 1, 2, 3 … in the order they are listed, each once",
)
EFFECTIVE_ORDER = ErrorCode(
    "E906",
    "version {number} takes effect on {effective}, not after version {previous} ({before})",
    "a later version takes effect after the one it replaces: check both dates",
)
BAD_COUNTRY = ErrorCode(
    "E907",
    "`{value}` is not an ISO 3166 country code",
    "write the two capital letters of the country, e.g. FR, IT, ES",
)
BAD_SITE = ErrorCode(
    "E908",
    "`{value}` is not a site code",
    "write the country code, a hyphen and the site's number, e.g. FR-01",
)
APPROVAL_PLACE = ErrorCode(
    "E909",
    "an approval names {found}",
    "give either `country: FR` (every site of the country) or `site: FR-01` (one site)",
)
WRONG_ANSWER = ErrorCode(
    "E910",
    "question `{question}` has `{answer}` as its answer, which is not one of its answers",
    "{hint}",
)
DUPLICATE_ID = ErrorCode("E911", "{what} `{id}` is used twice", "give each one its own id")
DOCUMENT_ID_MISMATCH = ErrorCode(
    "E912",
    "the document id `{id}` differs from its file name `{file}`",
    "name the file `{id}.yaml`, or change `document:` to `{stem}`",
)
NO_DOCUMENTS = ErrorCode(
    "E913",
    "{folder} has no consent document",
    "add `<document>.yaml` files beside rules.yaml, or remove the folder",
)
RAW_HTML = ErrorCode(
    "E914",
    "{what} ({lang}) has raw HTML `{found}` on its line {line}; it would show as literal text",
    "write Markdown instead (e.g. **bold**, lists with -, links as [text](https://…))",
)
BAD_LINK = ErrorCode(
    "E915",
    "{what} ({lang}) links to `{found}` on its line {line}; only http, https and mailto "
    "links are made",
    "link to an https:// page or a mailto: address, or write the text without a link",
)
NO_RULES = ErrorCode(
    "E916",
    "{folder} has consent documents but no rules.yaml",
    "add consent/rules.yaml with the rules of each country",
)
UNKNOWN_RECONSENT = ErrorCode("E917", "`{value}` is not a re-consent scope", "{hint}")
GRACE_WITHOUT_RECONSENT = ErrorCode(
    "E918",
    "an approval gives `grace_days` but asks no re-consent of active subjects",
    "add `reconsent: all_active`, or remove `grace_days`",
)
GRACE_MISSING = ErrorCode(
    "E919",
    "an approval asks re-consent of all active subjects without `grace_days`",
    "say how many days their earlier consent still counts, e.g. `grace_days: 90`",
)
RECONSENT_FIRST = ErrorCode(
    "E920",
    "version {number} asks re-consent of active subjects, but no earlier version was signed",
    "remove `reconsent: all_active` from the first version",
)

# -- rules ---------------------------------------------------------------------------------------
BAD_PLACE = ErrorCode(
    "E950",
    "`{value}` is neither a country code nor a site code",
    "write a country as FR, or one site as FR-01",
)
UNKNOWN_EXCEPTION = ErrorCode("E951", "`{value}` is not a reason for a missing parent", "{hint}")
BANDS_OVERLAP = ErrorCode(
    "E952",
    "assent ages {low}–{high} overlap the band before ({before_low}–{before_high})",
    "start this band at {expected}",
)
BANDS_GAP = ErrorCode(
    "E953",
    "no assent band covers {ages}",
    "extend a band or add one for these ages: every age from the first band to the age of "
    "majority needs a text",
)
BAND_RANGE = ErrorCode(
    "E954",
    "assent ages `{value}` must be two whole numbers from 0 to {limit}, the first not larger",
    "write e.g. `ages: [6, 11]` (both ages included, below the age of majority {majority})",
)
UNKNOWN_DOCUMENT = ErrorCode(
    "E955", "the rules name document `{value}`, which does not exist", "{hint}"
)
WRONG_AUDIENCE = ErrorCode(
    "E956",
    "{role} must be a {expected} document, and `{document}` is for {found}",
    "name a document whose `audience:` is {expected}",
)
UNKNOWN_BAND = ErrorCode(
    "E957", "document `{document}` has no band `{band}` in version {version}", "{hint}"
)
UNKNOWN_WITNESS = ErrorCode("E958", "`{value}` is not a witness condition", "{hint}")
UNKNOWN_SIGNATURE = ErrorCode("E959", "`{value}` is not a signature form", "{hint}")
RULE_ORDER = ErrorCode(
    "E960",
    "rules for {place} taking effect on {effective} are listed after those of {before}",
    "list each place's rules from the oldest to the newest, each on its own date",
)
UNKNOWN_MODE = ErrorCode("E961", "`{value}` is not an assent mode", "{hint}")
NOT_APPROVED = ErrorCode(
    "E962",
    "the rules for {place} name `{document}`, which no version approves for {place}",
    "add an approval for {place} to a version of `{document}`, or name another document",
    severity="warning",
)
