from __future__ import annotations

import pytest

from tests.conftest import login
from wash_ops.accounts.models import Role
from wash_ops.accounts.services import authenticate, issue_api_token, user_for_token
from wash_ops.errors import InvalidInput


def test_passwords_are_stored_as_argon2id(db, make_user):
    user = make_user(Role.PLANNER)
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash


def test_authenticate(db, make_user):
    user = make_user(Role.PLANNER, email="Plan@Example.test")
    assert authenticate(db, " plan@example.TEST ", "correct horse battery") is user
    assert authenticate(db, "plan@example.test", "wrong") is None
    assert authenticate(db, "nobody@example.test", "correct horse battery") is None
    user.active = False
    assert authenticate(db, "plan@example.test", "correct horse battery") is None


def test_tokens_are_stored_as_digests_and_not_for_couriers(db, make_user):
    organiser = make_user(Role.ORGANISER)
    plain, token = issue_api_token(db, organiser, "box office")
    assert plain.startswith("wo_") and plain not in token.digest
    assert user_for_token(db, plain) is organiser
    assert user_for_token(db, plain + "x") is None
    with pytest.raises(InvalidInput):
        issue_api_token(db, make_user(Role.COURIER), "courier script")


def test_login_is_rate_limited(app_factory, make_user):
    user = make_user(Role.PLANNER)
    client = app_factory(RATELIMIT_ENABLED=True).test_client()
    statuses = [login(client, user, "wrong password").status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    blocked = login(client, user)
    assert blocked.status_code == 429


def test_successful_logins_do_not_use_up_the_limit(app_factory, make_user):
    user = make_user(Role.PLANNER)
    client = app_factory(RATELIMIT_ENABLED=True).test_client()
    for _ in range(12):
        assert login(client, user).status_code == 302
        client.post("/logout")


def test_logout_needs_post(client, make_user):
    user = make_user(Role.PLANNER)
    login(client, user)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
    assert client.get("/office/").status_code == 302
