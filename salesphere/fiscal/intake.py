"""One fiscal XML in, one decision out: read, check the register, convert.

:func:`take` is what ingest calls for each fiscal file or request body. It leaves the
canonical validation of the drafts (and so the event ids) to ingest's usual path, which
then calls :meth:`~salesphere.fiscal.register.FiscalRegister.record_document` with the
ids it published.
"""

from __future__ import annotations

from dataclasses import dataclass

from salesphere.fiscal.convert import (
    DEFAULT_POLICY,
    Conversion,
    FiscalCatalog,
    FiscalPolicy,
    convert,
    convert_event,
)
from salesphere.fiscal.document import FiscalDocument, FiscalEvent, read
from salesphere.fiscal.register import CancellationResult, FiscalRegister
from salesphere.fiscal.xmlsafe import DEFAULT_LIMITS, XmlLimits


@dataclass(frozen=True)
class Intake:
    """A fiscal item read and converted; ``duplicate`` if the register knew it already."""

    item: FiscalDocument | FiscalEvent
    conversion: Conversion
    duplicate: bool = False
    cancellation: CancellationResult | None = None


def take(
    data: bytes,
    catalog: FiscalCatalog,
    register: FiscalRegister,
    policy: FiscalPolicy = DEFAULT_POLICY,
    limits: XmlLimits = DEFAULT_LIMITS,
) -> Intake:
    """Read ``data`` and decide; :class:`~salesphere.fiscal.errors.FiscalRejected` if refused.

    A document is checked against the register (cancelled first, then a conflicting
    earlier content) before it is converted; a cancellation is recorded in the register
    once it has passed the policy's gate.
    """
    item = read(data, limits)
    if isinstance(item, FiscalDocument):
        duplicate = register.check_document(item)
        return Intake(item, convert(item, catalog, policy), duplicate=duplicate)
    conversion = convert_event(item, policy)
    if item.cancels:
        result = register.apply_cancellation(item)
        return Intake(item, conversion, duplicate=result.duplicate, cancellation=result)
    return Intake(item, conversion)
