"""Reference data of the simulated retailer: its stores and its catalog.

Both are built from small hand-written tables plus the seeded RNG, so the same seed
always yields the same stores, names, prices and reorder points. Prices are integer
cents here (the hot loop never touches ``Decimal``); the writers format them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from salesphere.taxid import with_cnpj_digits

WEB_STORE_ID = "WEB"

#: State -> (city, IANA timezone, UTC offset in hours, neighbourhoods for store names).
CITIES: dict[str, tuple[str, str, int, tuple[str, ...]]] = {
    "SP": (
        "São Paulo",
        "America/Sao_Paulo",
        -3,
        ("Paulista", "Pinheiros", "Moema", "Tatuapé", "Santana", "Morumbi", "Lapa", "Mooca"),
    ),
    "RJ": (
        "Rio de Janeiro",
        "America/Sao_Paulo",
        -3,
        ("Copacabana", "Tijuca", "Barra", "Botafogo", "Méier", "Leblon"),
    ),
    "MG": (
        "Belo Horizonte",
        "America/Sao_Paulo",
        -3,
        ("Savassi", "Pampulha", "Funcionários", "Barreiro"),
    ),
    "PR": ("Curitiba", "America/Sao_Paulo", -3, ("Batel", "Água Verde", "Portão")),
    "RS": ("Porto Alegre", "America/Sao_Paulo", -3, ("Moinhos", "Cidade Baixa", "Menino Deus")),
    "BA": ("Salvador", "America/Bahia", -3, ("Barra", "Pituba", "Itaigara")),
    "PE": ("Recife", "America/Recife", -3, ("Boa Viagem", "Casa Forte", "Derby")),
    "DF": ("Brasília", "America/Sao_Paulo", -3, ("Asa Sul", "Asa Norte", "Águas Claras")),
    "CE": ("Fortaleza", "America/Fortaleza", -3, ("Aldeota", "Meireles", "Messejana")),
    "SC": ("Florianópolis", "America/Sao_Paulo", -3, ("Centro", "Trindade", "Ingleses")),
    "GO": ("Goiânia", "America/Sao_Paulo", -3, ("Setor Bueno", "Setor Oeste", "Marista")),
    "AM": ("Manaus", "America/Manaus", -4, ("Adrianópolis", "Ponta Negra", "Centro")),
    "PA": ("Belém", "America/Belem", -3, ("Nazaré", "Umarizal", "Batista Campos")),
    "ES": ("Vitória", "America/Sao_Paulo", -3, ("Praia do Canto", "Jardim Camburi")),
}
#: Order in which the chain opened stores: big markets first, São Paulo most often. Manaus
#: (UTC-4) is fourth so that even a small run (the demo's 4 stores) has a store whose local
#: business day is not São Paulo's: its 21:00 sale is 01:00 UTC on the next day.
OPENING_ORDER = (
    "SP",
    "RJ",
    "MG",
    "AM",
    "SP",
    "PR",
    "RS",
    "BA",
    "SP",
    "PE",
    "DF",
    "RJ",
    "CE",
    "SC",
    "GO",
    "MG",
    "SP",
    "PA",
    "ES",
    "RJ",
)


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """One selling location as the simulation sees it."""

    store_id: str
    name: str
    city: str
    state: str
    timezone: str
    utc_offset_hours: int
    online: bool
    size: float  # demand multiplier
    terminals: int
    spreadsheet_format: str  # "xlsx", "csv-latin1", "csv-utf8-bom" or "" (online)

    @property
    def offset_text(self) -> str:
        """ISO 8601 offset, e.g. ``-03:00``."""
        return _OFFSETS[self.utc_offset_hours]


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """One SKU with integer-cent prices and the demand weight the simulation uses."""

    sku: str
    name: str
    category: str
    unit_cost_cents: int
    list_price_cents: int
    reorder_point: int
    lead_time_days: int
    supplier: str
    popularity: float
    promo: bool  # part of the Black Friday offer
    review_period_days: int = 7
    pack_size: int = 1
    min_order_quantity: int = 0


_OFFSETS = {hours: f"{'-' if hours < 0 else '+'}{abs(hours):02d}:00" for hours in range(-12, 15)}
SPREADSHEET_FORMATS = ("csv-latin1", "xlsx", "csv-utf8-bom")
#: The one store whose manager exports with Excel. A single store on purpose: openpyxl
#: writes ~4k rows/s, so more XLSX stores would dominate the generator's run time.
XLSX_STORE_INDEX = 1


def _spreadsheet_format(index: int) -> str:
    """Each store keeps the tool it has always used; most export CSV from the POS."""
    if index == XLSX_STORE_INDEX:
        return "xlsx"
    return "csv-latin1" if index % 2 == 0 else "csv-utf8-bom"


def build_stores(count: int, rng: random.Random) -> list[StoreSpec]:
    """``count`` physical stores plus the online channel ``WEB`` (always last)."""
    per_state: dict[str, int] = {}
    stores: list[StoreSpec] = []
    for index in range(count):
        state = OPENING_ORDER[index % len(OPENING_ORDER)]
        per_state[state] = per_state.get(state, 0) + 1
        number = per_state[state]
        city, tz, offset, hoods = CITIES[state]
        hood = hoods[(number - 1) % len(hoods)]
        suffix = "" if number <= len(hoods) else f" {number}"
        size = 1.8 if index == 0 else round(rng.uniform(0.6, 1.5), 2)
        stores.append(
            StoreSpec(
                store_id=f"{state}{number:02d}",
                name=f"SalesSphere {hood}{suffix}",
                city=city,
                state=state,
                timezone=tz,
                utc_offset_hours=offset,
                online=False,
                size=size,
                terminals=max(2, round(size * 4)),
                spreadsheet_format=_spreadsheet_format(index),
            )
        )
    stores.append(
        StoreSpec(
            store_id=WEB_STORE_ID,
            name="SalesSphere Online",
            city="São Paulo",
            state="SP",
            timezone="America/Sao_Paulo",
            utc_offset_hours=-3,
            online=True,
            size=1.0,
            terminals=0,
            spreadsheet_format="",
        )
    )
    return stores


#: code, Portuguese name, price range (BRL), share of demand, promo on Black Friday, items.
CATEGORIES: tuple[tuple[str, str, int, int, float, bool, tuple[str, ...]], ...] = (
    (
        "ELE",
        "Eletrônicos",
        49,
        3499,
        0.16,
        True,
        (
            "Fone de Ouvido",
            "Caixa de Som",
            "Carregador",
            "Smartwatch",
            "Teclado",
            "Mouse",
            "Power Bank",
            "Cabo USB-C",
            "Tablet",
            "Webcam",
        ),
    ),
    (
        "CAS",
        "Casa e Cozinha",
        19,
        899,
        0.18,
        True,
        (
            "Panela",
            "Jogo de Copos",
            "Liquidificador",
            "Cafeteira",
            "Toalha de Banho",
            "Jogo de Cama",
            "Frigideira",
            "Garrafa Térmica",
            "Luminária",
        ),
    ),
    (
        "MOD",
        "Moda",
        29,
        399,
        0.17,
        False,
        ("Camiseta", "Calça Jeans", "Tênis", "Jaqueta", "Boné", "Vestido", "Bermuda", "Mochila"),
    ),
    (
        "BEL",
        "Beleza",
        9,
        249,
        0.15,
        False,
        (
            "Shampoo",
            "Condicionador",
            "Perfume",
            "Protetor Solar",
            "Hidratante",
            "Sabonete",
            "Base Líquida",
            "Batom",
        ),
    ),
    (
        "ESP",
        "Esporte",
        19,
        1299,
        0.10,
        True,
        (
            "Bola de Futebol",
            "Tapete de Yoga",
            "Halter",
            "Bicicleta",
            "Garrafa Esportiva",
            "Corda de Pular",
            "Luva de Goleiro",
        ),
    ),
    (
        "BRI",
        "Brinquedos",
        15,
        599,
        0.09,
        True,
        ("Quebra-Cabeça", "Boneca", "Carrinho", "Jogo de Tabuleiro", "Blocos de Montar", "Pelúcia"),
    ),
    (
        "PAP",
        "Papelaria",
        3,
        149,
        0.08,
        False,
        ("Caderno", "Caneta", "Estojo", "Agenda", "Marca-Texto", "Lápis de Cor"),
    ),
    (
        "MER",
        "Mercearia",
        4,
        89,
        0.07,
        False,
        ("Café em Grãos", "Chocolate", "Azeite", "Biscoito", "Chá", "Castanha"),
    ),
)
BRANDS = (
    "Aurora",
    "Brisa",
    "Cajú",
    "Duna",
    "Estrela do Sul",
    "Ipê",
    "Jangada",
    "Lumi",
    "Maré",
    "Norte",
    "Orla",
    "Pampa",
    "Quintal",
    "Sertão",
    "Tupi",
    "Vento",
)
VARIANTS = (
    "Preto",
    "Branco",
    "Azul",
    "Verde",
    "Grande",
    "Pequeno",
    "Plus",
    "Pro",
    "Lite",
    "Vermelho",
    "Cinza",
    "Compacto",
)
SUPPLIERS: tuple[tuple[str, int], ...] = (
    ("Distribuidora Paulista Ltda", 3),
    ("Comercial Carioca S.A.", 5),
    ("Importadora Santos Ltda", 14),
    ("Atacado Mineiro Ltda", 4),
    ("Indústria Gaúcha de Utilidades", 7),
    ("Nordeste Suprimentos Ltda", 9),
    ("Manaus Eletro Industrial", 12),
    ("Tecelagem Catarinense S.A.", 8),
    ("Alimentos do Vale Ltda", 2),
    ("Papelaria Central Atacado", 3),
)

#: Supplier -> (days between purchase reviews, minimum order in cases). Importers are
#: ordered every other week and want full pallets' worth; local distributors take a weekly
#: order of any size; food comes twice a week.
SUPPLIER_TERMS: dict[str, tuple[int, int]] = {
    "Distribuidora Paulista Ltda": (7, 0),
    "Comercial Carioca S.A.": (7, 1),
    "Importadora Santos Ltda": (14, 4),
    "Atacado Mineiro Ltda": (7, 2),
    "Indústria Gaúcha de Utilidades": (14, 2),
    "Nordeste Suprimentos Ltda": (14, 2),
    "Manaus Eletro Industrial": (14, 3),
    "Tecelagem Catarinense S.A.": (14, 2),
    "Alimentos do Vale Ltda": (3, 1),
    "Papelaria Central Atacado": (7, 1),
}
#: Units per case by category code; anything above R$ 500 ships one per box.
CATEGORY_PACK_SIZES = {
    "ELE": 1,
    "CAS": 4,
    "MOD": 6,
    "BEL": 12,
    "ESP": 2,
    "BRI": 3,
    "PAP": 12,
    "MER": 12,
}
SINGLE_UNIT_PRICE_CENTS = 500_00


def order_terms(code: str, supplier: str, price_cents: int) -> tuple[int, int, int]:
    """(review period days, pack size, minimum order units) of one SKU.

    Derived from the category, supplier and price alone (no draw from the RNG), so adding
    these terms left every other generated value of a seed unchanged.
    """
    review, min_cases = SUPPLIER_TERMS.get(supplier, (7, 0))
    pack = 1 if price_cents > SINGLE_UNIT_PRICE_CENTS else CATEGORY_PACK_SIZES.get(code, 1)
    return review, pack, min_cases * pack


#: Lines per ticket and units per line: most baskets are small.
AVG_LINES_PER_TICKET = 1.95
AVG_UNITS_PER_LINE = 1.45


def build_products(count: int, rng: random.Random, tickets_per_store_day: int) -> list[ProductSpec]:
    """``count`` SKUs spread over the categories, with Zipf-like popularity.

    Reorder points are sized from the demand a size-1.0 store sees during the supplier
    lead time plus a few days of safety stock, as a purchasing team would set them.
    """
    drafts = [_draft_product(index, rng) for index in range(count)]
    daily_units = tickets_per_store_day * AVG_LINES_PER_TICKET * AVG_UNITS_PER_LINE
    return _with_demand(drafts, daily_units)


def _draft_product(index: int, rng: random.Random) -> ProductSpec:
    """The ``index``-th SKU as drawn, its popularity still a raw Zipf weight and without
    ordering terms. The draws' order is part of a seed's output: keep it."""
    code, category, low, high, _share, promo, items = CATEGORIES[index % len(CATEGORIES)]
    # Log-uniform prices: many cheap items, a few expensive ones; Brazilian ",90" endings.
    price_reais = math.exp(rng.uniform(math.log(low), math.log(high)))
    price_cents = max(190, int(price_reais) * 100 + rng.choice((90, 99, 90, 49)))
    cost_cents = int(price_cents * rng.uniform(0.42, 0.68))
    supplier, lead = SUPPLIERS[rng.randrange(len(SUPPLIERS))]
    item = items[rng.randrange(len(items))]
    brand = BRANDS[rng.randrange(len(BRANDS))]
    variant = VARIANTS[rng.randrange(len(VARIANTS))]
    # Zipf by rank within a random order, damped for expensive items.
    rank = index // len(CATEGORIES) + 1
    weight = (1.0 / rank**0.9) * (1.0 / (1.0 + price_cents / 40000))
    return ProductSpec(
        sku=f"{code}-{10001 + index}",
        name=f"{item} {brand} {variant} {100 + index}",
        category=category,
        unit_cost_cents=cost_cents,
        list_price_cents=price_cents,
        reorder_point=0,
        lead_time_days=lead,
        supplier=supplier,
        popularity=weight,
        promo=promo,
    )


def _with_demand(drafts: list[ProductSpec], daily_units: float) -> list[ProductSpec]:
    """The drafts with popularity normalised per category (so category shares follow
    ``CATEGORIES``), the reorder point that popularity implies, and the ordering terms."""
    per_category: dict[str, float] = {}
    for product in drafts:
        per_category[product.category] = (
            per_category.get(product.category, 0.0) + product.popularity
        )
    share_total = sum(c[4] for c in CATEGORIES)
    shares = {c[1]: c[4] / share_total for c in CATEGORIES}
    result = []
    for product in drafts:
        popularity = product.popularity / per_category[product.category] * shares[product.category]
        demand = daily_units * popularity
        review, pack, min_order = order_terms(
            product.sku.split("-", 1)[0], product.supplier, product.list_price_cents
        )
        result.append(
            replace(
                product,
                reorder_point=max(3, math.ceil(demand * (product.lead_time_days + 4))),
                popularity=popularity,
                review_period_days=review,
                pack_size=pack,
                min_order_quantity=min_order,
            )
        )
    return result


def supplier_cnpj(name: str, suppliers: list[str]) -> str:
    """A supplier's (valid, made-up) CNPJ, from its place among the catalogue's suppliers."""
    return with_cnpj_digits(f"{44555000 + suppliers.index(name):08d}0001")
