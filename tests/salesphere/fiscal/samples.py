"""Fiscal XML for tests: nfelib's real samples, and documents built from one of them.

Built documents start from a real authorised NF-e that nfelib ships (read from the
installed package, never copied here) and change only what a test is about: the model,
the parties, the items, the environment, the protocol. The access key, ``cDV`` and the
total ``vProd`` are recomputed, so a built document passes every check unless a test
breaks one on purpose. Signatures are the sample's own (not verified, by design).
"""

from __future__ import annotations

from pathlib import Path

import nfelib

from salesphere.fiscal.xmlsafe import NFE_NS
from salesphere.taxid import with_cnpj_digits
from salesphere_tools.generate.nfe import (  # noqa: F401  (what the tests import from here)
    TEMPLATE,
    Line,
    build,
    cancellation,
    confirmation,
    event,
    key_of,
)

SAMPLES = Path(nfelib.__file__).resolve().parent / "nfe" / "samples" / "v4_0"
#: Real, authorised, schema-valid NF-e whose keys agree with their fields.
VALID_SAMPLES = sorted((SAMPLES / "leiauteNFe").glob("35180834128745000152*-nfe.xml"))
CCE_SAMPLE = (
    Path(nfelib.__file__).resolve().parent
    / "nfe_evento_cce/samples/v1_0/35180803102452000172550010000476051695511860-01-cce.xml"
)
N = f"{{{NFE_NS}}}"

STORE_SP = with_cnpj_digits("112223330001")  # our store SP01
STORE_RJ = with_cnpj_digits("112223330002")  # our store RJ01
WEB_SHOP = with_cnpj_digits("112223330003")  # our web shop WEB
SUPPLIER = with_cnpj_digits("445556660001")
SUPPLIER_ALNUM = with_cnpj_digits("12ABC34501DE")  # an alphanumeric CNPJ (2026 format)
CUSTOMER_CO = with_cnpj_digits("778889990001")
