"""Reference data: the catalog and the stores/channels that events point at."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from salesphere.model import Channel
from salesphere.replenishment import DEFAULT_SERVICE_LEVEL, SERVICE_LEVELS
from salesphere.taxid import TaxIdError, normalise_cnpj

#: Catalogue defaults for the replenishment terms a purchasing export may leave out: order
#: once a week, in single units, with no minimum. ``serving.replenishment`` applies the same
#: values to a catalogue row loaded without them (a test keeps the two in step).
DEFAULT_REVIEW_PERIOD_DAYS = 7
DEFAULT_PACK_SIZE = 1
DEFAULT_MIN_ORDER_QUANTITY = 0
#: Lead time plus review period is the window an order must cover; beyond a year the
#: forecast (a few weeks ahead) says nothing, so such a catalogue row is a typing error.
MAX_COVER_DAYS = 365
#: Days a transfer between two stores takes when ``reference.transfer_lead_times`` has no row
#: for the pair: a van run inside a state is overnight plus a day to shelve; across states
#: the truck and the interstate fiscal paperwork (the transfer NF-e) take about twice that.
#: ``serving.transfer_suggestions`` applies the same values (a test keeps them in step).
DEFAULT_TRANSFER_DAYS_SAME_STATE = 2
DEFAULT_TRANSFER_DAYS_OTHER_STATE = 4


class Product(BaseModel):
    """A sellable SKU with what purchasing needs to decide when and how much to reorder.

    The replenishment terms are per product (one supplier per SKU, the same for every
    store): the supplier's lead time, how often purchasing reviews the SKU, the units per
    case the supplier ships, and the supplier's minimum order in units.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    category: str
    unit_cost: Decimal = Field(ge=0, decimal_places=2)
    list_price: Decimal = Field(ge=0, decimal_places=2)
    reorder_point: int = Field(ge=0, description="Units on hand below which to reorder.")
    supplier_lead_time_days: int = Field(
        ge=0, le=365, description="Days from placing an order to the goods on the shelf."
    )
    supplier: str = ""
    review_period_days: int = Field(
        DEFAULT_REVIEW_PERIOD_DAYS,
        ge=1,
        le=365,
        description="Days between two purchase reviews of this SKU (7: weekly).",
    )
    pack_size: int = Field(
        DEFAULT_PACK_SIZE,
        ge=1,
        le=10_000,
        description="Units per case: orders are whole cases.",
    )
    min_order_quantity: int = Field(
        DEFAULT_MIN_ORDER_QUANTITY,
        ge=0,
        le=1_000_000,
        description="Smallest order the supplier accepts, in units (0: none).",
    )
    gtin: str | None = Field(
        None,
        description="The unit's GTIN/EAN (8, 12, 13 or 14 digits): how fiscal documents "
        "that do not use the SKU name the product.",
    )

    @field_validator("gtin", mode="before")
    @classmethod
    def _gtin_is_real(cls, value: object) -> object:
        return check_gtin(value)

    service_level: float = Field(
        DEFAULT_SERVICE_LEVEL,
        description="Chance of not running out in a review cycle the safety stock buys; "
        f"one of {', '.join(str(v) for v in SERVICE_LEVELS)}.",
    )

    @field_validator("service_level")
    @classmethod
    def _known_service_level(cls, value: float) -> float:
        if value not in SERVICE_LEVELS:
            raise ValueError(
                f"service_level {value} is not one of "
                f"{', '.join(str(v) for v in SERVICE_LEVELS)}; pick the nearest"
            )
        return value

    @model_validator(mode="after")
    def _cover_window_is_plausible(self) -> Product:
        """An order covers lead time + review period; more than a year is a typo."""
        if self.supplier_lead_time_days + self.review_period_days > MAX_COVER_DAYS:
            raise ValueError(
                f"supplier_lead_time_days + review_period_days = "
                f"{self.supplier_lead_time_days + self.review_period_days} exceeds "
                f"{MAX_COVER_DAYS} days; check both columns"
            )
        return self


class Store(BaseModel):
    """A physical store, or the online shop (``channel == online``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store_id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    name: str
    city: str
    state: str = Field(min_length=2, max_length=2)
    channel: Channel = Channel.STORE
    timezone: str = "America/Sao_Paulo"
    country: str = Field(
        "BR",
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166 country code: with the state as its subdivision, it picks "
        "the public holidays and retail events the forecast expects.",
    )
    cnpj: str | None = Field(
        None,
        description="The establishment's CNPJ (numeric or alphanumeric): how fiscal "
        "documents name the store.",
    )

    @field_validator("cnpj", mode="before")
    @classmethod
    def _cnpj_is_real(cls, value: object) -> object:
        return check_cnpj(value)


class TransferLeadTime(BaseModel):
    """Days stock takes from one store to another (``reference.transfer_lead_times``).

    Optional per pair and per direction; a pair without a row takes
    :data:`DEFAULT_TRANSFER_DAYS_SAME_STATE` or :data:`DEFAULT_TRANSFER_DAYS_OTHER_STATE`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_store: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    to_store: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    days: int = Field(ge=0, le=60, description="Days from dispatch to the goods on the shelf.")

    @model_validator(mode="after")
    def _two_stores(self) -> TransferLeadTime:
        if self.from_store == self.to_store:
            raise ValueError(
                f"from_store and to_store are both {self.from_store}; a transfer needs two stores"
            )
        return self


class SupplierItem(BaseModel):
    """A supplier's product code in our catalogue (``reference.supplier_items``).

    A supplier's NF-e names its own code (``cProd``) and its own unit (``uCom``, often a
    box): ``units_per_supplier_unit`` says how many of our units one of its units holds,
    so a receipt of 3 "CX" of 12 becomes 36 units of ``sku``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    supplier_cnpj: str
    supplier_code: str = Field(min_length=1, max_length=60)
    sku: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    units_per_supplier_unit: int = Field(1, ge=1, le=100_000)

    @field_validator("supplier_cnpj", mode="before")
    @classmethod
    def _cnpj_is_real(cls, value: object) -> object:
        return check_cnpj(value) or value


def check_cnpj(value: object) -> object:
    """A blank CNPJ is none; anything else must pass its check digits (normalised)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return normalise_cnpj(str(value))
    except TaxIdError as exc:
        raise ValueError(str(exc)) from exc


def check_gtin(value: object) -> object:
    """A blank GTIN is none; else 8/12/13/14 digits whose GS1 check digit is right."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if not text.isdigit() or len(text) not in (8, 12, 13, 14):
        raise ValueError(f"GTIN {text!r} must be 8, 12, 13 or 14 digits")
    body, digit = text[:-1], int(text[-1])
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    if (10 - total % 10) % 10 != digit:
        raise ValueError(f"GTIN {text} has a wrong check digit; check it for a typo")
    return text
