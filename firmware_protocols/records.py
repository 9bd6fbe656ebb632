"""Record classes: a list of typed fields with defaults, built without :mod:`dataclasses`.

Why not dataclasses: importing it imports ``inspect``, ``ast`` and ``dis``, about 1.1 MiB of
a running controller's 20 MiB (``docs/performance.md``), and controllers with 64 MiB are our
users.  The records of ``firmware_protocols`` and ``asicdrv`` need only part of it, which
is all this module does: construction by position or keyword, defaults and default
factories, frozen instances, fields left out of ``__init__``, ``repr`` or comparison,
``__post_init__``, equality and hashing, :func:`replace`, :func:`asdict` and
:func:`fields`.  A method the class defines itself is kept.  Type checkers treat a record
as a dataclass (PEP 681).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar, overload

    from typing_extensions import dataclass_transform  # typing has it from Python 3.11

    R = TypeVar("R")
else:

    def dataclass_transform(**_options):
        return lambda decorator: decorator


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class FrozenRecordError(AttributeError):
    """An attempt to change a field of a frozen record."""


class Field:
    """One field of a record, as :func:`field` declares it."""

    __slots__ = ("name", "default", "default_factory", "init", "repr", "compare")

    def __init__(self, default: Any, default_factory: Any, init: bool, repr: bool, compare: bool):
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("a field takes a default or a default_factory, not both")
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare

    def initial(self, owner: str) -> Any:
        if self.default is not MISSING:
            return self.default
        if self.default_factory is not MISSING:
            return self.default_factory()
        raise TypeError(f"{owner}() missing argument {self.name!r}")


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | Any = MISSING,
    init: bool = True,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """Declare a field with a default, a default factory or other options."""
    return Field(default, default_factory, init, repr, compare)


if TYPE_CHECKING:

    @overload
    def record(cls: type[R], /) -> type[R]: ...

    @overload
    def record(*, frozen: bool = False) -> Callable[[type[R]], type[R]]: ...


@dataclass_transform(field_specifiers=(field,))
def record(cls: type[R] | None = None, /, *, frozen: bool = False) -> Any:
    """Make ``cls`` a record of its annotated class attributes (``@record`` or
    ``@record(frozen=True)``); a base class's fields come first."""

    def build(cls: type[R]) -> type[R]:
        _make_record(cls, frozen)
        return cls

    return build if cls is None else build(cls)


def fields(obj: Any) -> tuple[Field, ...]:
    return obj.__record_fields__


def replace(obj: R, **changes: Any) -> R:
    """A copy of a record with some fields changed (``__post_init__`` runs again)."""
    for f in fields(obj):
        if f.init and f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
        elif not f.init and f.name in changes:
            raise ValueError(f"field {f.name!r} is not set through __init__")
    return type(obj)(**changes)


def asdict(obj: Any) -> dict[str, Any]:
    """The record's fields by name, records, lists, tuples and dicts inside it copied too."""
    return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}


def _plain(value: Any) -> Any:
    if hasattr(type(value), "__record_fields__"):
        return asdict(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _make_record(cls: type, frozen: bool) -> None:
    by_name: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in base.__dict__.get("__record_fields__", ()):
            by_name[f.name] = f
    for name in cls.__dict__.get("__annotations__", {}):
        value = cls.__dict__.get(name, MISSING)
        f = value if isinstance(value, Field) else Field(value, MISSING, True, True, True)
        if isinstance(f.default, (list, dict, set)):
            raise ValueError(f"{cls.__qualname__}.{name}: a mutable default needs default_factory")
        f.name = name
        by_name[name] = f
        if isinstance(value, Field):  # leave a plain default as the class attribute
            if f.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
    all_fields = tuple(by_name.values())
    cls.__record_fields__ = all_fields  # type: ignore[attr-defined]
    compared = tuple(f.name for f in all_fields if f.compare)
    methods = {
        "__init__": _init_of(cls.__qualname__, all_fields, hasattr(cls, "__post_init__")),
        "__repr__": _repr_of(tuple(f.name for f in all_fields if f.repr)),
        "__eq__": _eq_of(compared),
        # as dataclasses: a frozen record hashes its compared fields, a mutable one cannot
        "__hash__": _hash_of(compared) if frozen else None,
    }
    if frozen:
        methods["__setattr__"] = methods["__delattr__"] = _refuse_change
    if cls.__dict__.get("__hash__", 0) is None and "__eq__" in cls.__dict__:
        delattr(cls, "__hash__")  # Python's implicit None for a class with __eq__
    for name, method in methods.items():
        if name not in cls.__dict__:
            setattr(cls, name, method)


def _init_of(owner: str, all_fields: tuple[Field, ...], post_init: bool) -> Callable[..., None]:
    by_position = tuple(f for f in all_fields if f.init)
    names = tuple(f.name for f in by_position)
    not_in_init = tuple(
        f for f in all_fields if not f.init and (f.default, f.default_factory) != (MISSING,) * 2
    )

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        # fields go straight into the instance's __dict__: one call, and past a frozen
        # record's __setattr__
        if len(args) == len(names) and not kwargs:  # every field by position: the hot path
            self.__dict__.update(zip(names, args))
        else:
            self.__dict__.update(_values(owner, by_position, args, kwargs))
        for f in not_in_init:
            self.__dict__[f.name] = f.initial(owner)
        if post_init:
            self.__post_init__()

    return __init__


def _values(
    owner: str, by_position: tuple[Field, ...], args: tuple, kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Each ``__init__`` field's value, in field order, from arguments and defaults."""
    if len(args) > len(by_position):
        raise TypeError(f"{owner}() takes {len(by_position)} arguments, {len(args)} given")
    values = {}
    for f, value in zip(by_position, args):
        if f.name in kwargs:
            raise TypeError(f"{owner}() got two values for {f.name!r}")
        values[f.name] = value
    for f in by_position[len(args) :]:
        values[f.name] = kwargs.pop(f.name) if f.name in kwargs else f.initial(owner)
    if kwargs:
        raise TypeError(f"{owner}() got an unexpected argument {next(iter(kwargs))!r}")
    return values


def _repr_of(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({shown})"

    return __repr__


def _eq_of(names: tuple[str, ...]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

    return __eq__


def _hash_of(names: tuple[str, ...]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(tuple(getattr(self, n) for n in names))

    return __hash__


def _refuse_change(self: Any, name: str, *value: Any) -> None:
    raise FrozenRecordError(f"{type(self).__qualname__} is frozen: cannot change {name!r}")
