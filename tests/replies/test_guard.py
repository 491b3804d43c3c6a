"""The public-reply guard: each personal-data detector, with valid and invalid check digits."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.replies import guard


def kinds(text, **kw):
    return [f.kind for f in guard.scan(text, **kw)]


# --- IBAN (mod-97) ------------------------------------------------------------------------


@pytest.mark.parametrize("iban", [
    "IT60X0542811101000000123456",
    "IT60 X054 2811 1010 0000 0123 456",
    "NL91ABNA0417164300",
    "NL91 ABNA 0417 1643 00",
    "DE89370400440532013000",
    "BE68539007547034",
])
def test_valid_ibans_are_found(iban):
    assert guard.iban_is_valid(iban)
    assert kinds(f"Please refund to {iban} thanks") == ["iban"]


@pytest.mark.parametrize("iban", [
    "IT61X0542811101000000123456",  # wrong check digits
    "NL91ABNA0417164301",  # one digit off
    "NL91ABNA041716430",  # too short for NL
    "XX60X0542811101000000123456",  # not a country
])
def test_invalid_ibans_are_not_personal_data(iban):
    assert not guard.iban_is_valid(iban)
    assert "iban" not in kinds(f"code {iban}")


def test_iban_is_masked():
    (finding,) = guard.scan("IBAN IT60 X054 2811 1010 0000 0123 456 grazie")
    assert finding.masked == "IT60 •••• 3456"
    assert "0542811101" not in guard.describe([finding])


# --- payment cards (Luhn) -----------------------------------------------------------------


@pytest.mark.parametrize("card", [
    "4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", "378282246310005",
    "6011 1111 1111 1117", "4222222222222",
])
def test_valid_cards_are_found(card):
    assert guard.card_is_valid(card)
    found = guard.scan(f"carta {card} bloccata")
    assert [f.kind for f in found] == ["card"]
    assert found[0].masked.endswith(card.replace(" ", "").replace("-", "")[-4:])


@pytest.mark.parametrize("number", [
    "4111 1111 1111 1112", "5555555555554445", "1234 5678 9012 3456", "0000 0000 0000 0000",
])
def test_numbers_failing_luhn_are_not_cards(number):
    assert not guard.card_is_valid(number)
    assert "card" not in kinds(f"ordine {number}")


def _with_luhn_digit(prefix: str) -> str:
    for d in "0123456789":
        if guard.luhn_is_valid(prefix + d):
            return prefix + d
    raise AssertionError


@settings(max_examples=60, deadline=None)
@given(st.sampled_from("3456"), st.text(alphabet="0123456789", min_size=12, max_size=17))
def test_any_luhn_valid_number_of_card_length_is_found(first, middle):
    card = _with_luhn_digit(first + middle)
    grouped = " ".join(card[i:i + 4] for i in range(0, len(card), 4))
    assert "card" in kinds(f"my card is {grouped}.")


# --- Italian codice fiscale ---------------------------------------------------------------


@pytest.mark.parametrize("code", ["RSSMRA85T10A562S", "rssmra85t10a562s", "MRTMTT25D09F205Z",
                                  "RSSMRA85T10A56NH"])
def test_valid_tax_codes_are_found(code):
    assert guard.codice_fiscale_is_valid(code)
    assert kinds(f"Il mio codice fiscale è {code}.") == ["tax_code"]


@pytest.mark.parametrize("code", ["RSSMRA85T10A562T", "RSSMRA85Z10A562S", "RSSMRA85T10A562"])
def test_tax_codes_with_a_wrong_check_letter_are_ignored(code):
    assert not guard.codice_fiscale_is_valid(code)
    assert kinds(f"codice {code}") == []


# --- Dutch BSN (11-check) -----------------------------------------------------------------


@pytest.mark.parametrize("bsn", ["111222333", "123456782", "1112.22.333", "111 222 333"])
def test_valid_bsn_is_found(bsn):
    assert guard.bsn_is_valid(bsn)
    assert kinds(f"mijn BSN is {bsn}") == ["bsn"]


@pytest.mark.parametrize("bsn", ["123456789", "111222334", "000000000"])
def test_bsn_failing_the_11_check_is_ignored(bsn):
    assert not guard.bsn_is_valid(bsn)
    assert "bsn" not in kinds(f"nummer {bsn}")


# --- phone numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "chiamami al 333 123 4567",  # Italian mobile
    "oppure +39 02 1234 5678",  # international
    "fisso 02 12345678",  # Italian landline
    "bel me op 06-12345678",  # Dutch mobile
    "of 020 123 4567",  # Dutch landline
    "of 0031 6 12345678",  # 00 prefix
    "call +44 20 7946 0958",
])
def test_phone_numbers_are_found(text):
    assert kinds(text) == ["phone"]


@pytest.mark.parametrize("text", [
    "numero verde 800 123 456",  # the bank's own free phone
    "bel 0800-0123",
    "ticket CT-000123, ordine 12345, 2024-01-15 alle 17:00",
    "importo 100.000 euro",
])
def test_service_numbers_dates_and_amounts_are_not_phones(text):
    assert kinds(text) == []


# --- e-mail -------------------------------------------------------------------------------


def test_email_addresses_are_found_except_the_brands_own():
    found = guard.scan("write to mario.rossi@example.com or care@bank.example",
                       allowed_email_domains=["bank.example"])
    assert [(f.kind, f.masked) for f in found] == [("email", "m•••@example.com")]


def test_allowed_values_are_the_brands_published_numbers():
    assert kinds("call us on +39 02 1234 5678", allowed_values=["+39 02 1234 5678"]) == []


# --- postal addresses ---------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "abito in Via Roma 12, 20121 Milano",
    "Piazza San Marco 3",
    "Corso Vittorio Emanuele II 45/B",
    "woon op Keizersgracht 123a, 1015 CJ Amsterdam",
    "Stationsweg 4",
    "postcode 1015 CJ Amsterdam",
])
def test_addresses_are_found(text):
    assert kinds(text) == ["address"]


@pytest.mark.parametrize("text", [
    "ti rispondiamo via email entro 24 ore",
    "via chat 3 volte al giorno",
    "we pay 1000 EUR tomorrow",
])
def test_ordinary_words_are_not_addresses(text):
    assert kinds(text) == []


def test_several_findings_in_reading_order_and_no_double_counting():
    text = ("IBAN NL91ABNA0417164300, BSN 111222333, mail a.b@example.org, "
            "tel 06 12345678, CF RSSMRA85T10A562S")
    assert kinds(text) == ["iban", "bsn", "email", "phone", "tax_code"]
    assert guard.scan("") == []
