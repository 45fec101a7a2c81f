"""Reference data: the catalog and the stores/channels that events point at."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from salesphere.model import Channel


class Product(BaseModel):
    """A sellable SKU with what purchasing needs to decide when to reorder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    category: str
    unit_cost: Decimal = Field(ge=0, decimal_places=2)
    list_price: Decimal = Field(ge=0, decimal_places=2)
    reorder_point: int = Field(ge=0, description="Units on hand below which to reorder.")
    supplier_lead_time_days: int = Field(ge=0, le=365)
    supplier: str = ""


class Store(BaseModel):
    """A physical store, or the online shop (``channel == online``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store_id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    name: str
    city: str
    state: str = Field(min_length=2, max_length=2)
    channel: Channel = Channel.STORE
    timezone: str = "America/Sao_Paulo"
