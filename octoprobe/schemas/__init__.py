"""Response schemas (JSON Schema 2020-12) in strict or lenient mode, and
microversion negotiation. See :mod:`.loader`, :mod:`.modes`, :mod:`.microversions`."""

from octoprobe.schemas.loader import (
    BASE_URI,
    Problem,
    ResponseSchemaError,
    SchemaFileError,
    SchemaNotFound,
    Schemas,
)
from octoprobe.schemas.microversions import APIVersion, MicroversionUnsupported, advertised_range, negotiate
from octoprobe.schemas.modes import LENIENT, MODES, STRICT, apply_mode

__all__ = [
    "BASE_URI",
    "Problem",
    "ResponseSchemaError",
    "SchemaFileError",
    "SchemaNotFound",
    "Schemas",
    "APIVersion",
    "MicroversionUnsupported",
    "advertised_range",
    "negotiate",
    "LENIENT",
    "MODES",
    "STRICT",
    "apply_mode",
]
