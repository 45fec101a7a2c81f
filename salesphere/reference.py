"""Reference data: the catalog and the stores/channels that events point at."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from salesphere.model import Channel
from salesphere.replenishment import DEFAULT_SERVICE_LEVEL, SERVICE_LEVELS

#: Catalogue defaults for the replenishment terms a purchasing export may leave out: order
#: once a week, in single units, with no minimum. ``serving.replenishment`` applies the same
#: values to a catalogue row loaded without them (a test keeps the two in step).
DEFAULT_REVIEW_PERIOD_DAYS = 7
DEFAULT_PACK_SIZE = 1
DEFAULT_MIN_ORDER_QUANTITY = 0
#: Lead time plus review period is the window an order must cover; beyond a year the
#: forecast (a few weeks ahead) says nothing, so such a catalogue row is a typing error.
MAX_COVER_DAYS = 365


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
