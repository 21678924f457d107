"""Friends: user search, friend requests, friendships.

Product decisions (what a Slack/WhatsApp user expects):
- Sending a request that is already pending in the same direction is a harmless retry: the
  existing request comes back (created=False), nothing new is stored or announced.
- If the other side already asked you, "add friend" means yes: their request is accepted.
- Only the recipient answers a request. A third party gets 404 (requests are private); the
  sender gets 403 (they can see the request, they just cannot answer it).
- Answering a request that is no longer pending (accepting twice, accepting after a
  decline) is 409 `request_not_pending`: the first answer stands and is never re-announced.
- Search matches the start of the username, of the display name, or of any word in the
  display name ("smi" finds "John Smith"), case-insensitively.

Concurrency: every change to the relationship of a pair first locks both users' rows in id
order (`_lock_pair`), so two people adding each other at the same moment end as exactly one
friendship, and a double-clicked "add" cannot hit the unique pending-request index.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from utool_chat.db.engine import session_scope
from utool_chat.db.models import FriendRequest, Friendship, User, utcnow
from utool_chat.domain.accounts import USERNAME_RE, normalise_username
from utool_chat.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from utool_chat.domain.serializers import iso, user_out
from utool_chat.domain.text import check_id, storable_text_problem
from utool_chat.events import Event, publish_on_commit

MAX_QUERY_CHARS = 64  # the longest display name; nothing longer can match
MAX_SEARCH_LIMIT = 50

REQUEST_RECEIVED = "friends:request_received"
REQUEST_ACCEPTED = "friends:request_accepted"
FRIEND_REMOVED = "friends:removed"


# ---------------------------------------------------------------- shapes and checks


def request_out(request: FriendRequest, users: dict[str, User]) -> dict[str, Any]:
    """The contract's request object; `users` maps id → User for both ends."""
    return {
        "_id": request.id,
        "from": user_out(users[request.from_user_id]),
        "to": user_out(users[request.to_user_id]),
        "status": request.status,
        "createdAt": iso(request.created_at),
    }


def check_search_query(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValidationFailed("q must be a string.", code="invalid_query")
    problem = storable_text_problem(raw)
    if problem:
        raise ValidationFailed(f"q {problem}.", code="invalid_query")
    q = raw.strip().lower()
    if not q:
        raise ValidationFailed("q must not be empty.", code="invalid_query")
    if len(q) > MAX_QUERY_CHARS:
        raise ValidationFailed(f"q must be at most {MAX_QUERY_CHARS} characters.", code="invalid_query")
    return q


def check_limit(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_SEARCH_LIMIT:
        raise ValidationFailed(f"limit must be an integer from 1 to {MAX_SEARCH_LIMIT}.", code="invalid_limit")
    return raw


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------- queries


def are_friends(session: Session, user_a: str, user_b: str) -> bool:
    """True if the two users are friends (one indexed lookup in the caller's session)."""
    if user_a == user_b:
        return False
    found = session.execute(
        sa.select(sa.literal(1)).where(col(Friendship.user_id) == user_a, col(Friendship.friend_id) == user_b)
    ).first()
    return found is not None


def search_users(actor_id: str, q: Any, limit: Any = 20) -> list[dict[str, Any]]:
    """Users whose username, display name, or a display-name word starts with `q` (case-
    insensitive), the caller excluded. Each user carries `relationship` to the caller
    (friend | incoming | outgoing | none) so the UI can show the right button. One query."""
    needle = _escape_like(check_search_query(q))
    limit = check_limit(limit)
    display = sa.func.lower(col(User.display_name))
    is_friend = sa.exists().where(col(Friendship.user_id) == actor_id, col(Friendship.friend_id) == col(User.id))
    pending = col(FriendRequest.status) == "pending"
    incoming = sa.exists().where(
        pending, col(FriendRequest.from_user_id) == col(User.id), col(FriendRequest.to_user_id) == actor_id
    )
    outgoing = sa.exists().where(
        pending, col(FriendRequest.from_user_id) == actor_id, col(FriendRequest.to_user_id) == col(User.id)
    )
    relationship = sa.case(
        (is_friend, "friend"), (incoming, "incoming"), (outgoing, "outgoing"), else_="none"
    )
    stmt = (
        sa.select(User, relationship)
        .where(
            col(User.id) != actor_id,
            sa.or_(
                col(User.username).like(needle + "%", escape="\\"),
                display.like(needle + "%", escape="\\"),
                display.like("% " + needle + "%", escape="\\"),
            ),
        )
        # Best first: the exact username, then username prefixes, then display-name hits.
        .order_by(
            (col(User.username) == needle).desc(),
            col(User.username).like(needle + "%", escape="\\").desc(),
            col(User.username),
        )
        .limit(limit)
    )
    with session_scope() as session:
        rows = session.execute(stmt).all()
        return [{**user_out(user), "relationship": rel} for user, rel in rows]


def list_friends(actor_id: str) -> list[dict[str, Any]]:
    """The caller's friends, alphabetically by username. One query."""
    with session_scope() as session:
        users = session.execute(
            sa.select(User)
            .join(Friendship, col(Friendship.friend_id) == col(User.id))
            .where(col(Friendship.user_id) == actor_id)
            .order_by(col(User.username))
        ).scalars().all()
        return [user_out(u) for u in users]


def list_requests(actor_id: str) -> dict[str, list[dict[str, Any]]]:
    """Pending requests to and from the caller, newest first. One query."""
    sender, recipient = aliased(User), aliased(User)
    with session_scope() as session:
        rows = session.execute(
            sa.select(FriendRequest, sender, recipient)
            .join(sender, col(sender.id) == col(FriendRequest.from_user_id))
            .join(recipient, col(recipient.id) == col(FriendRequest.to_user_id))
            .where(
                col(FriendRequest.status) == "pending",
                sa.or_(col(FriendRequest.from_user_id) == actor_id, col(FriendRequest.to_user_id) == actor_id),
            )
            .order_by(col(FriendRequest.created_at).desc(), col(FriendRequest.id))
        ).all()
        out: dict[str, list[dict[str, Any]]] = {"incoming": [], "outgoing": []}
        for request, from_user, to_user in rows:
            users = {from_user.id: from_user, to_user.id: to_user}
            box = "incoming" if request.to_user_id == actor_id else "outgoing"
            out[box].append(request_out(request, users))
        return out


# ---------------------------------------------------------------- changes


def _lock_pair(session: Session, actor_id: str, other: sa.ColumnElement[bool]) -> tuple[User | None, User | None]:
    """Lock the caller's row and the row matching `other`, in id order (no deadlocks), and
    return (actor, other user or None). FOR NO KEY UPDATE does not block inserts that only
    reference these users by foreign key (messages, memberships)."""
    users = session.execute(
        sa.select(User)
        .where(sa.or_(col(User.id) == actor_id, other))
        .order_by(col(User.id))
        .with_for_update(key_share=True)
    ).scalars().all()
    actor = next((u for u in users if u.id == actor_id), None)
    target = next((u for u in users if u.id != actor_id), None)
    return actor, target


def _befriend(session: Session, request: FriendRequest, users: dict[str, User]) -> dict[str, Any]:
    """Accept a pending request: both friendship rows, and both sides hear about it."""
    request.status = "accepted"
    request.responded_at = utcnow()
    session.add(request)
    a, b = request.from_user_id, request.to_user_id
    session.add_all([Friendship(user_id=a, friend_id=b), Friendship(user_id=b, friend_id=a)])
    out = request_out(request, users)
    publish_on_commit(session, Event(REQUEST_ACCEPTED, {"request": out}, [a, b]))
    return out


def send_request(actor_id: str, username: Any = None, user_id: Any = None) -> tuple[dict[str, Any], bool]:
    """Ask `username` or `user_id` to be friends: (request, created).

    created=True: a new pending request. created=False: either the same pending request
    already existed (a retry), or the other side had asked first and this accepted it
    (status "accepted"). 400 for yourself, 404 unknown user, 409 already friends."""
    if (username is None) == (user_id is None):
        raise ValidationFailed("Give exactly one of username or userId.", code="validation_error")
    unknown_user = NotFound("User not found.", code="user_not_found")
    if user_id is not None:
        check_id(user_id, "userId", lambda: unknown_user)
        target_match = col(User.id) == user_id
    else:
        wanted = normalise_username(username)
        if not USERNAME_RE.fullmatch(wanted):  # nobody can have registered that name
            raise unknown_user
        target_match = col(User.username) == wanted
    if user_id == actor_id:
        raise ValidationFailed("You cannot send a friend request to yourself.", code="cannot_friend_self")

    with session_scope() as session:
        actor, target = _lock_pair(session, actor_id, target_match)
        if actor is None:  # the caller's account vanished under a live token
            raise NotFound("User not found.", code="user_not_found")
        if target is None:
            if user_id is None and actor.username == normalise_username(username):
                raise ValidationFailed("You cannot send a friend request to yourself.", code="cannot_friend_self")
            raise unknown_user
        if are_friends(session, actor.id, target.id):
            raise Conflict("You are already friends.", code="already_friends")

        users = {actor.id: actor, target.id: target}
        pending = session.execute(
            sa.select(FriendRequest).where(
                col(FriendRequest.status) == "pending",
                sa.or_(
                    sa.and_(col(FriendRequest.from_user_id) == actor.id, col(FriendRequest.to_user_id) == target.id),
                    sa.and_(col(FriendRequest.from_user_id) == target.id, col(FriendRequest.to_user_id) == actor.id),
                ),
            )
        ).scalars().all()
        for request in pending:
            if request.from_user_id == target.id:  # they asked first: this is a yes
                return _befriend(session, request, users), False
        if pending:
            return request_out(pending[0], users), False

        request = FriendRequest(from_user_id=actor.id, to_user_id=target.id)
        session.add(request)
        session.flush()
        out = request_out(request, users)
        publish_on_commit(session, Event(REQUEST_RECEIVED, {"request": out}, [target.id]))
        return out, True


def _answer(actor_id: str, request_id: Any, accept: bool) -> dict[str, Any]:
    """Accept or decline a request addressed to the caller (see the module docstring)."""
    missing = NotFound("Friend request not found.", code="request_not_found")
    check_id(request_id, "requestId", lambda: missing)
    with session_scope() as session:
        request = session.get(FriendRequest, request_id)
        if request is None or actor_id not in (request.from_user_id, request.to_user_id):
            raise missing
        if request.to_user_id != actor_id:
            raise Forbidden("Only the recipient can answer a friend request.", code="not_recipient")
        actor, sender = _lock_pair(session, actor_id, col(User.id) == request.from_user_id)
        if actor is None or sender is None:  # cannot happen: deleting a user deletes their requests
            raise missing
        session.refresh(request)  # another answer may have landed before we got the lock
        if request.status != "pending":
            raise Conflict(f"This request was already {request.status}.", code="request_not_pending")
        users = {actor.id: actor, sender.id: sender}
        if accept:
            return _befriend(session, request, users)
        request.status = "declined"
        request.responded_at = utcnow()
        session.add(request)
        # Declining is quiet: the sender is not told (as in every messenger).
        return request_out(request, users)


def accept_request(actor_id: str, request_id: Any) -> dict[str, Any]:
    """The recipient accepts: the two become friends. 404 not visible, 409 not pending."""
    return _answer(actor_id, request_id, accept=True)


def decline_request(actor_id: str, request_id: Any) -> dict[str, Any]:
    """The recipient declines. The sender may ask again later."""
    return _answer(actor_id, request_id, accept=False)


def remove_friend(actor_id: str, friend_id: Any) -> None:
    """End a friendship (both rows). 404 if the two are not friends."""
    not_friends = NotFound("That user is not your friend.", code="not_friends")
    if check_id(friend_id, "userId", lambda: not_friends) == actor_id:
        raise not_friends
    with session_scope() as session:
        _lock_pair(session, actor_id, col(User.id) == friend_id)
        deleted = session.exec(
            sa.delete(Friendship).where(
                sa.or_(
                    sa.and_(col(Friendship.user_id) == actor_id, col(Friendship.friend_id) == friend_id),
                    sa.and_(col(Friendship.user_id) == friend_id, col(Friendship.friend_id) == actor_id),
                )
            )
        )
        if deleted.rowcount == 0:
            raise not_friends
        # Each side learns which user left their list.
        publish_on_commit(session, Event(FRIEND_REMOVED, {"userId": friend_id}, [actor_id]))
        publish_on_commit(session, Event(FRIEND_REMOVED, {"userId": actor_id}, [friend_id]))
