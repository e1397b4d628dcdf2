"""Access declarations, the role hierarchy, and the small helpers of the auth layer."""

from __future__ import annotations

import pytest

from callcenter.errors import ValidationError
from callcenter.storage.audit import mask_details
from callcenter.storage.users import ROLE_INCLUDES, Role, User, normalize_login
from callcenter.web.auth import Access, access_of, mark_public, mask_address, public, requires, signed_in


def user(role: Role) -> User:
    return User(id=1, login="x", display_name="", role=role)


def test_role_hierarchy() -> None:
    """admin ⊇ supervisor ⊇ agent, and authority stands apart from all three."""
    assert user(Role.ADMIN).has_role(Role.AGENT) and user(Role.ADMIN).has_role(Role.SUPERVISOR)
    assert user(Role.SUPERVISOR).has_role(Role.AGENT)
    assert not user(Role.SUPERVISOR).has_role(Role.ADMIN)
    assert not user(Role.AGENT).has_role(Role.SUPERVISOR)
    assert ROLE_INCLUDES[Role.AUTHORITY] == {Role.AUTHORITY}
    assert not user(Role.ADMIN).has_role(Role.AUTHORITY)
    assert set(ROLE_INCLUDES) == set(Role)


def test_decorators_attach_declarations() -> None:
    """@public, @requires and @signed_in each leave a declaration the middleware reads."""

    async def a() -> None: ...
    async def b() -> None: ...
    async def c() -> None: ...
    async def d() -> None: ...

    assert access_of(public(a)) == Access(public=True)
    assert access_of(requires(Role.SUPERVISOR)(b)) == Access(roles=frozenset({Role.SUPERVISOR}))
    assert access_of(signed_in(c)) == Access(roles=frozenset(Role))
    assert access_of(d) is None


def test_access_allows_through_the_hierarchy() -> None:
    """A route naming supervisor admits admin and supervisor only; signed_in admits everyone."""
    supervisor_only = Access(roles=frozenset({Role.SUPERVISOR}))
    assert [r for r in Role if supervisor_only.allows(user(r))] == [Role.SUPERVISOR, Role.ADMIN]
    everyone = Access(roles=frozenset(Role))
    assert all(everyone.allows(user(r)) for r in Role)


def test_conflicting_declarations_are_an_error_but_repeats_are_not() -> None:
    """Declaring a handler twice the same way is harmless; declaring it differently is refused."""

    async def handler() -> None: ...

    public(handler)
    mark_public(handler)
    with pytest.raises(TypeError):
        requires(Role.ADMIN)(handler)
    with pytest.raises(TypeError):
        requires()


def test_class_based_views_can_be_declared() -> None:
    """The decorator works on a class (aiohttp's web.View) as on a function."""

    @requires(Role.ADMIN)
    class Flows:
        pass

    assert access_of(Flows) == Access(roles=frozenset({Role.ADMIN}))


@pytest.mark.parametrize(
    ("raw", "canonical"), [("Olena", "olena"), ("  op.12@dnipro ", "op.12@dnipro"), ("a-b_c", "a-b_c")]
)
def test_login_names_are_normalized(raw: str, canonical: str) -> None:
    """Logins are trimmed and lower-cased."""
    assert normalize_login(raw) == canonical


@pytest.mark.parametrize("raw", ["", "олена", "-x", "a b", "x" * 65, "a;drop"])
def test_malformed_login_names_are_refused(raw: str) -> None:
    """A login outside the allowed characters or length is a ValidationError on the login field."""
    with pytest.raises(ValidationError) as info:
        normalize_login(raw)
    assert info.value.field == "login"


def test_addresses_are_masked_for_logs() -> None:
    """Log lines carry the network, not the host, of a client address."""
    assert mask_address("10.20.30.40") == "10.20.30.x"
    assert mask_address("2001:db8:1:2::5") == "2001:db8:1::x"
    assert mask_address("") == ""


def test_audit_details_mask_phone_numbers_at_any_depth() -> None:
    """Phone values under the phone keys are masked in audit details, nested or not; others stay."""
    details = {"caller": "+380501234567", "changes": [{"phone": "0501234567", "topic": "ЖКГ"}], "n": 3}
    masked = mask_details(details)
    assert masked == {
        "caller": "38050***4567",
        "changes": [{"phone": "05012***4567", "topic": "ЖКГ"}],
        "n": 3,
    }
