"""The base of every internal API model: camelCase on the wire, strict about requests.

A request that breaks its model is refused with BAD_USER_INPUT naming the field by its wire
name, whether the caller built it (client side) or it arrived at the service (server side);
answers ignore fields they do not know, so a service may add some before its callers learn them.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from taskstream.errors import InvalidInput

# A bound on text a service validates itself (URLs, emails, ...): far above what it accepts,
# so its own message decides, yet nothing unbounded crosses.
TEXT_MAX = 16_384
# Names a caller gives for itself ("recurrence", "notifications", ...).
SOURCE_MAX = 64


class Request(BaseModel):
    """A request to a service's internal API."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
    )

    @model_validator(mode="wrap")
    @classmethod
    def _refused_as_bad_input(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        try:
            return handler(data)
        except ValidationError as error:
            raise bad_input(cls, error) from None


class Answer(BaseModel):
    """What a service's internal API answers."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
        frozen=True,
    )


def bad_input(model: type[BaseModel], error: ValidationError) -> InvalidInput:
    """BAD_USER_INPUT naming the first refused field by its wire name, and what is allowed."""
    first = error.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"]]
    if loc and loc[0] in model.model_fields:
        loc[0] = model.model_fields[loc[0]].alias or loc[0]
    return InvalidInput(".".join(loc) or "body", str(first["msg"]))
