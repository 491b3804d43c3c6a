"""Public-reply guard: find personal data in a text. Pure functions, no ORM, no settings.

A public reply is a post anyone can read and nobody can take back; a bank must never put a
customer's account number, card, tax code, phone number, e-mail or home address in one. The
same scanner flags inbound public posts in which customers expose their own data.

Detectors use the numbers' own check digits (IBAN mod-97, Luhn, codice fiscale check letter,
BSN 11-test) so that order numbers and amounts are not mistaken for personal data, and run
from the most specific to the least: a span claimed by one detector is not reported again.
"""

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

IBAN = "iban"
CARD = "card"
TAX_CODE = "tax_code"
BSN = "bsn"
PHONE = "phone"
EMAIL = "email"
ADDRESS = "address"

KIND_LABELS = {
    IBAN: _("IBAN"),
    CARD: _("payment card number"),
    TAX_CODE: _("Italian tax code (codice fiscale)"),
    BSN: _("Dutch citizen service number (BSN)"),
    PHONE: _("phone number"),
    EMAIL: _("e-mail address"),
    ADDRESS: _("postal address"),
}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    masked: str

    @property
    def label(self) -> str:
        return str(KIND_LABELS[self.kind])

    def as_dict(self) -> dict:
        return {"kind": self.kind, "label": self.label, "masked": self.masked}


# --- check digits -------------------------------------------------------------------------

# Lengths from the SWIFT IBAN registry; a country not listed here is not an IBAN country.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def iban_is_valid(value: str) -> bool:
    """ISO 13616: known country, its exact length, and the mod-97 remainder 1."""
    compact = re.sub(r"[\s-]", "", value).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", compact):
        return False
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def luhn_is_valid(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def card_is_valid(value: str) -> bool:
    """13–19 digits, an issuer prefix (1–6) and a correct Luhn check digit."""
    digits = re.sub(r"[\s-]", "", value)
    return 13 <= len(digits) <= 19 and digits[0] in "123456" and luhn_is_valid(digits)


_CF_ODD = {
    **dict(zip("0123456789", [1, 0, 5, 7, 9, 13, 15, 17, 19, 21], strict=True)),
    **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
               [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10,
                22, 25, 24, 23], strict=True)),
}
# Omocodia: when two people share a code, digits are replaced by these letters in turn.
_CF_DIGITISH = "0-9LMNPQRSTUV"
CODICE_FISCALE_RE = re.compile(
    rf"(?<![A-Za-z0-9])[A-Za-z]{{6}}[{_CF_DIGITISH}]{{2}}[ABCDEHLMPRSTabcdehlmprst]"
    rf"[{_CF_DIGITISH}]{{2}}[A-Za-z][{_CF_DIGITISH}]{{3}}[A-Za-z](?![A-Za-z0-9])",
    re.IGNORECASE,
)


def codice_fiscale_is_valid(value: str) -> bool:
    """Italian tax code: the shape and the check letter computed over the first 15 characters."""
    code = value.upper()
    if not CODICE_FISCALE_RE.fullmatch(code):
        return False
    total = 0
    for i, ch in enumerate(code[:15]):
        if i % 2 == 0:  # positions 1, 3, 5… counted from one
            total += _CF_ODD[ch]
        else:
            total += int(ch) if ch.isdigit() else ord(ch) - ord("A")
    return chr(ord("A") + total % 26) == code[15]


def bsn_is_valid(value: str) -> bool:
    """Dutch BSN: nine digits whose weighted sum (9…2, and −1 for the last) divides by 11."""
    digits = re.sub(r"[\s.-]", "", value)
    if len(digits) == 8:
        digits = "0" + digits
    if len(digits) != 9 or not digits.isdigit() or int(digits) == 0:
        return False
    weights = [9, 8, 7, 6, 5, 4, 3, 2, -1]
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0


# --- masking ------------------------------------------------------------------------------


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _mask_iban(value: str) -> str:
    compact = re.sub(r"\s", "", value).upper()
    return f"{compact[:4]} •••• {compact[-4:]}"


def _mask_tail(value: str, keep: int = 3) -> str:
    return "•••• " + _digits(value)[-keep:]


def _mask_email(value: str) -> str:
    local, _at, domain = value.partition("@")
    return f"{local[:1]}•••@{domain}"


def _mask_text(value: str) -> str:
    return value[:5] + "•••"


# --- detectors ----------------------------------------------------------------------------

IBAN_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}")
CARD_RE = re.compile(r"(?<![\d.,])\d(?:[ -]?\d){12,18}(?![\d])")
BSN_RE = re.compile(
    r"(?<![\w.,+-])(?:\d{9}|\d{4}\.\d{2}\.\d{3}|\d{3}[ .]\d{3}[ .]\d{3})(?![\w]|[.,]\d)"
)
EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE_RES = [
    # International: +39 / +31 / 0039 / 0031 … then 7–13 more digits with separators.
    re.compile(r"(?<![\w+])(?:\+|00)\d{1,3}[ .-]?(?:\(0\)[ .-]?)?\d(?:[ ./-]?\d){6,12}(?!\d)"),
    # National numbers starting with 0 (Italian landlines, every Dutch number) or 3 (Italian mobiles).
    re.compile(r"(?<![\w+.,/-])0\d(?:[ ./-]?\d){7,9}(?![\d])"),
    re.compile(r"(?<![\w+.,/-])3\d{2}(?:[ ./-]?\d){6,7}(?![\d])"),
]
# Free-phone and premium service numbers are the brand's own, not a person's.
SERVICE_NUMBER_PREFIXES = ("800", "803", "0800", "0900", "0906", "0909", "39800", "31800", "3180")

_IT_STREET = (
    r"via|viale|v\.le|piazza|p\.zza|piazzale|corso|c\.so|largo|vicolo|strada|contrada|"
    r"borgo|lungomare|lungotevere|località|loc\."
)
ADDRESS_IT_RE = re.compile(
    rf"(?<![\w])(?i:{_IT_STREET})\s+(?:[A-ZÀ-Ý0-9][\wÀ-ÿ'’.]*\s+){{0,4}}?[A-ZÀ-Ý][\wÀ-ÿ'’.]*"
    r",?\s+(?:n\.?\s*|nr\.?\s*)?\d{1,4}(?:\s?/?\s?[A-Za-z](?![\w]))?"
    r"(?:,?\s+\d{5}(?:\s+[A-ZÀ-Ý][\wÀ-ÿ'’]+)?)?"
)
_NL_STREET = (
    r"straat|laan|weg|plein|gracht|kade|dijk|singel|steeg|pad|hof|dreef|park|baan|markt|"
    r"wal|kanaal|boulevard|allee|erf|veld|oord|haven"
)
ADDRESS_NL_RE = re.compile(
    rf"(?<![\w])[A-Z][\wÀ-ÿ'’-]*(?:{_NL_STREET})\s+\d{{1,5}}(?:\s?[a-zA-Z](?![\w])|-\d+)?"
    r"(?:,?\s+[1-9]\d{3}\s?(?!SA|SD|SS)[A-Z]{2}(?![\w]))?"
)
POSTCODE_NL_RE = re.compile(r"(?<![\w])[1-9]\d{3}\s?(?!SA|SD|SS)[A-Z]{2}\s+[A-Z][a-zà-ÿ]+")


def _iban_findings(text: str):
    for m in IBAN_RE.finditer(text):
        raw = m.group(0)
        country = raw[:2].upper()
        length = IBAN_LENGTHS.get(country)
        if length is None:
            continue
        # The pattern may run on into the next word: cut at the country's IBAN length.
        count, end = 0, m.start()
        for i, ch in enumerate(raw):
            if ch != " ":
                count += 1
            if count == length:
                end = m.start() + i + 1
                break
        else:
            continue
        candidate = text[m.start():end]
        if iban_is_valid(candidate):
            yield m.start(), end, IBAN, _mask_iban(candidate)


def _card_findings(text: str):
    for m in CARD_RE.finditer(text):
        if card_is_valid(m.group(0)):
            yield m.start(), m.end(), CARD, "•••• " + _digits(m.group(0))[-4:]


def _tax_code_findings(text: str):
    for m in CODICE_FISCALE_RE.finditer(text):
        code = m.group(0)
        # Ordinary long words never carry the digits a tax code has.
        if sum(ch.isdigit() for ch in code) >= 3 and codice_fiscale_is_valid(code):
            yield m.start(), m.end(), TAX_CODE, code[:3].upper() + "•" * 12 + code[-1].upper()


def _bsn_findings(text: str):
    for m in BSN_RE.finditer(text):
        if bsn_is_valid(m.group(0)):
            yield m.start(), m.end(), BSN, _mask_tail(m.group(0))


def _phone_findings(text: str):
    for regex in PHONE_RES:
        for m in regex.finditer(text):
            digits = _digits(m.group(0))
            national = digits[2:] if m.group(0).startswith("00") else digits
            if not 8 <= len(digits) <= 15:
                continue
            if digits.startswith(SERVICE_NUMBER_PREFIXES) or national.startswith(SERVICE_NUMBER_PREFIXES):
                continue
            yield m.start(), m.end(), PHONE, _mask_tail(m.group(0))


def _email_findings(text: str):
    for m in EMAIL_RE.finditer(text):
        yield m.start(), m.end(), EMAIL, _mask_email(m.group(0))


def _address_findings(text: str):
    for regex in (ADDRESS_IT_RE, ADDRESS_NL_RE, POSTCODE_NL_RE):
        for m in regex.finditer(text):
            yield m.start(), m.end(), ADDRESS, _mask_text(m.group(0).strip(" ,"))


DETECTORS = (
    _email_findings,
    _iban_findings,
    _card_findings,
    _tax_code_findings,
    _address_findings,
    _bsn_findings,
    _phone_findings,
)


def scan(text: str, *, allowed_email_domains=(), allowed_values=()) -> list[Finding]:
    """Every piece of personal data found in `text`, in reading order.

    `allowed_email_domains` and `allowed_values` are the brand's own published contacts (its
    care mailbox, its service number), which a reply may of course mention.
    """
    if not text:
        return []
    domains = {d.lower().lstrip("@") for d in allowed_email_domains}
    allowed = {re.sub(r"[\s.()/-]", "", v).lower() for v in allowed_values}
    taken: list[tuple[int, int]] = []
    findings = []
    for detector in DETECTORS:
        for start, end, kind, masked in detector(text):
            if any(start < t_end and end > t_start for t_start, t_end in taken):
                continue
            value = text[start:end]
            taken.append((start, end))
            if kind == EMAIL and value.rsplit("@", 1)[-1].lower() in domains:
                continue
            if re.sub(r"[\s.()/-]", "", value).lower() in allowed:
                continue
            findings.append(Finding(kind=kind, start=start, end=end, masked=masked))
    findings.sort(key=lambda f: f.start)
    return findings


def describe(findings: list[Finding]) -> str:
    """One readable line naming what was found, masked: "IBAN IT60 •••• 3456, phone number …"."""
    return ", ".join(f"{f.label} {f.masked}" for f in findings)
