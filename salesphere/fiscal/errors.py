"""Why a fiscal document is refused: one stable rule code and a reason a person can act on."""

from __future__ import annotations


class FiscalRejected(ValueError):
    """The document (or event) is not taken; ``rule`` is the reject code, ``path`` where.

    ``path`` is the element the problem is in, written with local names
    (``/nfeProc/NFe/infNFe/det[2]/prod/qCom``), or ``None`` for the whole document.
    """

    def __init__(self, rule: str, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.path = path

    def __str__(self) -> str:
        text = super().__str__()
        return f"{self.path}: {text}" if self.path else text
