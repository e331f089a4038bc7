"""The engine's own messages in the portal's languages (the library cannot use the app's Babel).

Form authors' messages come from the YAML; these are the few built-in ones: required, format,
limits. Unknown languages fall back to English.
"""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    "required": {
        "en": "This field is required.",
        "fr": "Ce champ est obligatoire.",
        "de": "Dieses Feld ist erforderlich.",
        "it": "Questo campo è obbligatorio.",
        "es": "Este campo es obligatorio.",
    },
    "integer": {
        "en": "Enter a whole number.",
        "fr": "Saisissez un nombre entier.",
        "de": "Geben Sie eine ganze Zahl ein.",
        "it": "Inserire un numero intero.",
        "es": "Introduzca un número entero.",
    },
    "decimal": {
        "en": "Enter a number.",
        "fr": "Saisissez un nombre.",
        "de": "Geben Sie eine Zahl ein.",
        "it": "Inserire un numero.",
        "es": "Introduzca un número.",
    },
    "decimals": {
        "en": "Use at most {places} decimal places.",
        "fr": "Utilisez au plus {places} décimales.",
        "de": "Verwenden Sie höchstens {places} Nachkommastellen.",
        "it": "Usare al massimo {places} decimali.",
        "es": "Use como máximo {places} decimales.",
    },
    "date": {
        "en": "Enter a date as {format}, for example {example}.",
        "fr": "Saisissez une date au format {format}, par exemple {example}.",
        "de": "Geben Sie ein Datum als {format} ein, zum Beispiel {example}.",
        "it": "Inserire una data nel formato {format}, ad esempio {example}.",
        "es": "Introduzca una fecha con el formato {format}, por ejemplo {example}.",
    },
    "datetime": {
        "en": "Enter a date and time as {format}, for example {example}.",
        "fr": "Saisissez une date et une heure au format {format}, par exemple {example}.",
        "de": "Geben Sie Datum und Uhrzeit als {format} ein, zum Beispiel {example}.",
        "it": "Inserire data e ora nel formato {format}, ad esempio {example}.",
        "es": "Introduzca fecha y hora con el formato {format}, por ejemplo {example}.",
    },
    "no_such_date": {
        "en": "There is no {date} in the calendar: check the day and the month.",
        "fr": "Le {date} n’existe pas dans le calendrier : vérifiez le jour et le mois.",
        "de": "Den {date} gibt es im Kalender nicht: prüfen Sie Tag und Monat.",
        "it": "Il {date} non esiste nel calendario: controllare il giorno e il mese.",
        "es": "El {date} no existe en el calendario: compruebe el día y el mes.",
    },
    "time": {
        "en": "Enter a time as HH:MM.",
        "fr": "Saisissez une heure au format HH:MM.",
        "de": "Geben Sie eine Uhrzeit als HH:MM ein.",
        "it": "Inserire un orario nel formato HH:MM.",
        "es": "Introduzca una hora con el formato HH:MM.",
    },
    "yesno": {
        "en": "Choose yes or no.",
        "fr": "Choisissez oui ou non.",
        "de": "Wählen Sie Ja oder Nein.",
        "it": "Scegliere sì o no.",
        "es": "Elija sí o no.",
    },
    "choice": {
        "en": "Choose one of the listed answers.",
        "fr": "Choisissez l’une des réponses proposées.",
        "de": "Wählen Sie eine der angebotenen Antworten.",
        "it": "Scegliere una delle risposte proposte.",
        "es": "Elija una de las respuestas propuestas.",
    },
    "too_long": {
        "en": "Use at most {max} characters.",
        "fr": "Utilisez au plus {max} caractères.",
        "de": "Verwenden Sie höchstens {max} Zeichen.",
        "it": "Usare al massimo {max} caratteri.",
        "es": "Use como máximo {max} caracteres.",
    },
    "pattern": {
        "en": "This answer does not have the expected format.",
        "fr": "Cette réponse n’a pas le format attendu.",
        "de": "Diese Antwort hat nicht das erwartete Format.",
        "it": "Questa risposta non ha il formato previsto.",
        "es": "Esta respuesta no tiene el formato esperado.",
    },
    "below_min": {
        "en": "The value must be at least {limit}.",
        "fr": "La valeur doit être au moins {limit}.",
        "de": "Der Wert muss mindestens {limit} sein.",
        "it": "Il valore deve essere almeno {limit}.",
        "es": "El valor debe ser como mínimo {limit}.",
    },
    "above_max": {
        "en": "The value must be at most {limit}.",
        "fr": "La valeur doit être au plus {limit}.",
        "de": "Der Wert darf höchstens {limit} sein.",
        "it": "Il valore deve essere al massimo {limit}.",
        "es": "El valor debe ser como máximo {limit}.",
    },
    "too_many_rows": {
        "en": "At most {max} rows are allowed.",
        "fr": "Au plus {max} lignes sont autorisées.",
        "de": "Höchstens {max} Zeilen sind erlaubt.",
        "it": "Sono ammesse al massimo {max} righe.",
        "es": "Se permiten como máximo {max} filas.",
    },
    "too_many_rows_one": {
        "en": "At most 1 row is allowed.",
        "fr": "Au plus 1 ligne est autorisée.",
        "de": "Höchstens 1 Zeile ist erlaubt.",
        "it": "È ammessa al massimo 1 riga.",
        "es": "Se permite como máximo 1 fila.",
    },
    "too_few_rows_one": {
        "en": "At least 1 row is needed.",
        "fr": "Au moins 1 ligne est nécessaire.",
        "de": "Mindestens 1 Zeile ist nötig.",
        "it": "È necessaria almeno 1 riga.",
        "es": "Se necesita al menos 1 fila.",
    },
    "too_few_rows": {
        "en": "At least {min} rows are needed.",
        "fr": "Au moins {min} lignes sont nécessaires.",
        "de": "Mindestens {min} Zeilen sind nötig.",
        "it": "Sono necessarie almeno {min} righe.",
        "es": "Se necesitan al menos {min} filas.",
    },
}


def render(key: str, lang: str, count: int | None = None, **params: Any) -> str:
    """The message in `lang`; with `count`, the singular form (`key_one`) when it is 1."""
    if count == 1 and f"{key}_one" in MESSAGES:
        key = f"{key}_one"
    texts = MESSAGES[key]
    return (texts.get(lang) or texts["en"]).format(**params)
