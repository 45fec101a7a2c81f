"""Analyse statements with Google's analyzer against a catalog of the warehouse's tables.

The settings are BigQuery's as far as ZetaSQL can state them: every language feature
(QUALIFY, analytic functions, NUMERIC/BIGNUMERIC, JSON, pipe syntax...), every statement
kind (the analyzer accepts only queries by default, while the platform also sends DML,
DDL and transactions), ``PRODUCT_EXTERNAL`` (BigQuery's type names: INT64, FLOAT64) and
the builtin functions under the same options. A pass is weaker evidence than a rejection:
ZetaSQL with maximum features accepts a little BigQuery does not, never the reverse for
the name-resolution rules this check exists for.

Tables are reachable the three ways the platform names them: ``dataset.table`` (nested
catalogs), ``project.dataset.table`` (views are deployed fully qualified) and as one
backticked name (``\\`project.dataset.table\\```, which ZetaSQL keeps as a single
identifier while BigQuery splits it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zetasql.core.exceptions import ServerError
from zetasql.wasi._pb2.zetasql.local_service import local_service_pb2 as ls_pb2
from zetasql.wasi._pb2.zetasql.proto import options_pb2 as proto_options
from zetasql.wasi._pb2.zetasql.proto import simple_catalog_pb2
from zetasql.wasi._pb2.zetasql.public import options_pb2 as public_options
from zetasql.wasi._pb2.zetasql.public import parse_resume_location_pb2, simple_table_pb2, type_pb2
from zetasql.wasi._pb2.zetasql.resolved_ast import resolved_ast_pb2, resolved_node_kind_pb2

from salesphere_tools.sqlcheck import engine

#: BigQuery's type names (schema JSON and the client's parameter types) → ZetaSQL kinds.
SIMPLE_TYPES = {
    "STRING": type_pb2.TYPE_STRING,
    "BYTES": type_pb2.TYPE_BYTES,
    "INT64": type_pb2.TYPE_INT64,
    "INTEGER": type_pb2.TYPE_INT64,
    "FLOAT64": type_pb2.TYPE_DOUBLE,
    "FLOAT": type_pb2.TYPE_DOUBLE,
    "NUMERIC": type_pb2.TYPE_NUMERIC,
    "BIGNUMERIC": type_pb2.TYPE_BIGNUMERIC,
    "BIGDECIMAL": type_pb2.TYPE_BIGNUMERIC,
    "DECIMAL": type_pb2.TYPE_NUMERIC,
    "BOOL": type_pb2.TYPE_BOOL,
    "BOOLEAN": type_pb2.TYPE_BOOL,
    "TIMESTAMP": type_pb2.TYPE_TIMESTAMP,
    "DATE": type_pb2.TYPE_DATE,
    "DATETIME": type_pb2.TYPE_DATETIME,
    "TIME": type_pb2.TYPE_TIME,
    "JSON": type_pb2.TYPE_JSON,
    "GEOGRAPHY": type_pb2.TYPE_GEOGRAPHY,
    "INTERVAL": type_pb2.TYPE_INTERVAL,
}


class UnknownType(ValueError):
    """A schema or parameter names a type this mapping does not know."""


def simple_type(name: str) -> type_pb2.TypeProto:
    kind = SIMPLE_TYPES.get(name.upper())
    if kind is None:
        raise UnknownType(
            f"BigQuery type {name!r} has no ZetaSQL mapping; add it to "
            "salesphere_tools.sqlcheck.analyzer.SIMPLE_TYPES"
        )
    return type_pb2.TypeProto(type_kind=kind)


def array_of(element: type_pb2.TypeProto) -> type_pb2.TypeProto:
    return type_pb2.TypeProto(
        type_kind=type_pb2.TYPE_ARRAY, array_type=type_pb2.ArrayTypeProto(element_type=element)
    )


def field_type(spec: Mapping) -> type_pb2.TypeProto:
    """The ZetaSQL type of one BigQuery schema field (``RECORD`` and ``REPEATED`` included)."""
    kind = str(spec.get("type", "STRING")).upper()
    if kind in {"RECORD", "STRUCT"}:
        base = type_pb2.TypeProto(
            type_kind=type_pb2.TYPE_STRUCT,
            struct_type=type_pb2.StructTypeProto(
                field=[
                    type_pb2.StructFieldProto(field_name=f["name"], field_type=field_type(f))
                    for f in spec.get("fields", ())
                ]
            ),
        )
    else:
        base = simple_type(kind)
    return array_of(base) if str(spec.get("mode", "")).upper() == "REPEATED" else base


_ARRAY = re.compile(r"^ARRAY<(.+)>$", re.IGNORECASE)


def parameter_type(name: str) -> type_pb2.TypeProto:
    """``TIMESTAMP``, ``ARRAY<STRING>``: the type strings parameters are recorded with."""
    match = _ARRAY.match(name.strip())
    return array_of(parameter_type(match.group(1))) if match else simple_type(name)


@dataclass(frozen=True)
class Column:
    name: str
    type: type_pb2.TypeProto


@dataclass
class Catalog:
    """Tables by ``(dataset, table)``; rendered as a ZetaSQL ``SimpleCatalogProto``."""

    project: str
    tables: dict[tuple[str, str], tuple[Column, ...]] = field(default_factory=dict)

    def add(self, dataset: str, table: str, columns: Iterable[Column]) -> None:
        self.tables[(dataset, table)] = tuple(columns)

    def add_schema(self, dataset: str, table: str, fields: Iterable[Mapping]) -> None:
        self.add(dataset, table, (Column(f["name"], field_type(f)) for f in fields))

    def proto(self, language: proto_options.LanguageOptionsProto):
        def table(name: str, columns: tuple[Column, ...]):
            return simple_table_pb2.SimpleTableProto(
                name=name,
                column=[
                    simple_table_pb2.SimpleColumnProto(name=c.name, type=c.type) for c in columns
                ],
            )

        datasets: dict[str, list] = {}
        flat = []
        for (dataset, name), columns in sorted(self.tables.items()):
            datasets.setdefault(dataset, []).append(table(name, columns))
            flat.append(table(f"{dataset}.{name}", columns))
            flat.append(table(f"{self.project}.{dataset}.{name}", columns))

        def nested(name: str):
            return [
                simple_catalog_pb2.SimpleCatalogProto(name=ds, table=tables)
                for ds, tables in sorted(datasets.items())
            ]

        project = simple_catalog_pb2.SimpleCatalogProto(
            name=self.project, catalog=nested(self.project)
        )
        return simple_catalog_pb2.SimpleCatalogProto(
            name="warehouse",
            table=flat,
            catalog=[*nested(""), project],
            builtin_function_options=proto_options.ZetaSQLBuiltinFunctionOptionsProto(
                language_options=language
            ),
        )


class AnalysisError(Exception):
    """The analyzer rejected a statement; ``text`` is its full message (all lines)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _message(exc: ServerError) -> str:
    """The whole error: ``ServerError.message`` keeps only the first line, ``raw_error`` all."""
    raw = exc.raw_error or exc.message
    return re.sub(r"^Code: \d+, Message: ", "", raw).strip()


class Analyzer:
    """One analyzer service, BigQuery's language options, and a growing catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.service, self.engine = engine.service()
        self.client = self.service.wasm_client
        self.catalog = catalog
        self.language = self._language_options()
        self._catalog_id: int | None = None

    def _registered_catalog(self) -> int:
        """The catalog's id in the service, (re)registered after a table was added.

        Registering builds the builtin function set once per catalog version instead of
        once per statement (sending the catalog with every request did that).
        """
        if self._catalog_id is None:
            response = self.client.call_grpc_func(
                "ZetaSqlLocalService_RegisterCatalog",
                ls_pb2.RegisterCatalogRequest(simple_catalog=self.catalog.proto(self.language)),
                ls_pb2.RegisterResponse,
            )
            self._catalog_id = response.registered_id
        return self._catalog_id

    def _language_options(self) -> proto_options.LanguageOptionsProto:
        language = self.client.call_grpc_func(
            "ZetaSqlLocalService_GetLanguageOptions",
            ls_pb2.LanguageOptionsRequest(maximum_features=True),
            proto_options.LanguageOptionsProto,
        )
        language.product_mode = public_options.PRODUCT_EXTERNAL
        del language.supported_statement_kinds[:]
        language.supported_statement_kinds.extend(
            value
            for name, value in resolved_node_kind_pb2.ResolvedNodeKind.items()
            if name.startswith("RESOLVED_") and name.endswith("_STMT")
        )
        return language

    def add_table(self, dataset: str, table: str, columns: Iterable[Column]) -> None:
        self.catalog.add(dataset, table, columns)
        if self._catalog_id is not None:
            self.client.call_grpc_func(
                "ZetaSqlLocalService_UnregisterCatalog",
                ls_pb2.UnregisterRequest(registered_id=self._catalog_id),
            )
            self._catalog_id = None

    def _options(self, parameters: Mapping[str, str]) -> proto_options.AnalyzerOptionsProto:
        return proto_options.AnalyzerOptionsProto(
            language_options=self.language,
            error_message_mode=public_options.ERROR_MESSAGE_MULTI_LINE_WITH_CARET,
            parameter_mode=public_options.PARAMETER_NAMED,
            query_parameters=[
                proto_options.AnalyzerOptionsProto.QueryParameterProto(
                    name=name, type=parameter_type(kind)
                )
                for name, kind in sorted(parameters.items())
            ],
        )

    def analyze(
        self, sql: str, parameters: Mapping[str, str] | None = None
    ) -> resolved_ast_pb2.AnyResolvedStatementProto:
        """The resolved statement, or :class:`AnalysisError` with the analyzer's message."""
        request = ls_pb2.AnalyzeRequest(
            sql_statement=sql,
            options=self._options(parameters or {}),
            registered_catalog_id=self._registered_catalog(),
        )
        try:
            response = self.client.call_grpc_func(
                "ZetaSqlLocalService_Analyze", request, ls_pb2.AnalyzeResponse
            )
        except ServerError as exc:
            raise AnalysisError(_message(exc)) from None
        return response.resolved_statement

    def analyze_script(self, sql: str, parameters: Mapping[str, str] | None = None) -> int:
        """Analyse each statement of a ``;``-separated script in turn; returns how many.

        The analyzer's own parser finds where each statement ends (a resume location),
        so semicolons inside strings or comments cannot split a statement.
        """
        options = self._options(parameters or {})
        position, count = 0, 0
        encoded = sql.encode()
        while encoded[position:].strip(b" \t\r\n;"):
            request = ls_pb2.AnalyzeRequest(
                parse_resume_location=parse_resume_location_pb2.ParseResumeLocationProto(
                    input=sql, byte_position=position, allow_resume=True
                ),
                options=options,
                registered_catalog_id=self._registered_catalog(),
            )
            try:
                response = self.client.call_grpc_func(
                    "ZetaSqlLocalService_Analyze", request, ls_pb2.AnalyzeResponse
                )
            except ServerError as exc:
                raise AnalysisError(
                    f"statement {count + 1} of the script: {_message(exc)}"
                ) from None
            count += 1
            if response.resume_byte_position <= position:
                break
            position = response.resume_byte_position
        return count

    def output_columns(self, sql: str, parameters: Mapping[str, str] | None = None) -> list[Column]:
        """Name and type of each column a query yields (to register a view as a table)."""
        resolved = self.analyze(sql, parameters)
        if resolved.WhichOneof("node") != "resolved_query_stmt_node":
            raise AnalysisError(f"expected a query, got {resolved.WhichOneof('node')}")
        return [
            Column(out.name, out.column.type)
            for out in resolved.resolved_query_stmt_node.output_column_list
        ]
