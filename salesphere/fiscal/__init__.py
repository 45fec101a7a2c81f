"""Brazil's fiscal documents as a source: NFC-e (65), NF-e (55) and their events.

Pure domain code, no I/O: bytes in, canonical event drafts (or a reason) out.

* :mod:`.xmlsafe` parses hostile XML (no DTD, no entities, no network, bounded);
* :mod:`.schema` validates against the official 4.00 XSDs shipped by ``nfelib``;
* :mod:`.key` checks the 44-character access key against the document;
* :mod:`.document` recognises ``nfeProc`` / ``NFe`` / ``procEventoNFe`` / ``evento`` /
  ``envEvento`` by content and reads them;
* :mod:`.convert` turns documents into sales, receipts, transfers and returns;
* :mod:`.register` remembers each key's content and cancellations;
* :mod:`.intake` chains them for ingest.

CNPJ check digits (numeric and alphanumeric) live in :mod:`salesphere.taxid`, which the
reference data uses too. docs/fiscal.md describes the design.
"""
