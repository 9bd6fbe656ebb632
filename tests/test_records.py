"""firmware_protocols.records against the standard library's dataclasses.

Each class is declared once and built both ways; the two must behave alike in everything
the project's records use (construction, defaults, frozen, repr, equality, hashing,
replace, asdict, __post_init__, inheritance)."""

from __future__ import annotations

import dataclasses

import pytest

from firmware_protocols import records


def both(frozen: bool = False):
    """The same class body as a dataclass and as a record."""

    def build(maker, field):
        @maker(frozen=frozen)
        class Reading:
            module: int
            temps: list = field(default_factory=list)
            fan_rpm: int = 0
            seen_at: float = field(default=0.0, compare=False, repr=False)
            total: int = field(init=False, default=0)

            def __post_init__(self):
                object.__setattr__(self, "total", self.module + len(self.temps))

        return Reading

    return build(dataclasses.dataclass, dataclasses.field), build(records.record, records.field)


@pytest.mark.parametrize("frozen", [False, True])
def test_a_record_behaves_as_the_same_dataclass(frozen):
    std, rec = both(frozen)
    for args, kwargs in [((3,), {}), ((3, [40, 41]), {"fan_rpm": 900}), ((), {"module": 1})]:
        a, b = std(*args, **kwargs), rec(*args, **kwargs)
        assert repr(a).replace(std.__qualname__, "X") == repr(b).replace(rec.__qualname__, "X")
        assert (a.module, a.temps, a.fan_rpm, a.seen_at, a.total) == (
            b.module, b.temps, b.fan_rpm, b.seen_at, b.total)  # fmt: skip
    assert rec(3, [1], seen_at=5.0) == rec(3, [1], seen_at=9.0)  # not compared
    assert rec(3, [1]) != rec(4, [1])
    assert rec(3) != std(3)  # another class: never equal
    assert rec(3).temps is not rec(3).temps  # the factory runs per instance
    if frozen:
        assert hash(rec(3, (1,))) == hash(rec(3, (1,)))
        with pytest.raises(AttributeError, match="frozen"):
            rec(3).fan_rpm = 1
        with pytest.raises(AttributeError):
            del rec(3).fan_rpm
    else:
        assert std.__hash__ is None and rec.__hash__ is None
        b = rec(3)
        b.fan_rpm = 5
        assert b.fan_rpm == 5


@pytest.mark.parametrize("frozen", [False, True])
def test_replace_and_asdict_match_the_standard_library(frozen):
    std, rec = both(frozen)
    a = dataclasses.replace(std(3, [1, 2]), fan_rpm=7)
    b = records.replace(rec(3, [1, 2]), fan_rpm=7)
    assert dataclasses.asdict(a) == records.asdict(b)
    assert records.asdict(records.replace(b, module=9))["total"] == 11  # __post_init__ ran
    with pytest.raises(ValueError):
        records.replace(b, total=1)
    assert [f.name for f in records.fields(b)] == [f.name for f in dataclasses.fields(a)]


def test_bad_construction_is_a_type_error_as_for_a_dataclass():
    std, rec = both()
    for cls in (std, rec):
        with pytest.raises(TypeError, match="module"):
            cls()
        with pytest.raises(TypeError):
            cls(1, [], 2, 3.0, 4)  # one too many
        with pytest.raises(TypeError):
            cls(1, module=2)
        with pytest.raises(TypeError):
            cls(1, colour="red")
        with pytest.raises(TypeError):
            cls(1, total=3)  # not an __init__ field


def test_fields_of_a_base_come_first_and_a_subclass_may_override_a_default():
    @records.record
    class Base:
        a: int
        b: int = 2

    @records.record
    class Child(Base):
        c: int = 3
        b: int = 5

    assert [f.name for f in records.fields(Child)] == ["a", "b", "c"]
    assert records.asdict(Child(1)) == {"a": 1, "b": 5, "c": 3}
    assert repr(Child(1, c=4)).endswith(".Child(a=1, b=5, c=4)")


def test_nested_records_lists_and_dicts_become_plain_values():
    @records.record(frozen=True)
    class Inner:
        x: int

    @records.record
    class Outer:
        items: list = records.field(default_factory=list)
        by_id: dict = records.field(default_factory=dict)

    out = records.asdict(Outer([Inner(1)], {7: Inner(2)}))
    assert out == {"items": [{"x": 1}], "by_id": {7: {"x": 2}}}


def test_a_mutable_default_is_refused_and_methods_of_the_class_are_kept():
    with pytest.raises(ValueError, match="default_factory"):

        @records.record
        class Bad:
            xs: list = []  # noqa: RUF012

    @records.record
    class Own:
        a: int

        def __repr__(self):
            return "own"

    assert repr(Own(1)) == "own"
    assert Own(1) == Own(1)
