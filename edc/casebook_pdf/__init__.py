"""The casebook PDF: a subject's copy in words (`document`) drawn by weasyprint (`render`).

`edc.services.casebook_pdf` reads and masks what the copy holds and audits its download; this
package only puts it into words in the reader's language and lays it out for print.
"""
