"""An adversary who can write PostgreSQL but holds no master key, for the audit trail's tests.

It rewrites `audit_events`, `audit_checkpoints` and `identity_signing_keys` directly, as a
database administrator (or anyone with the application's database credentials) could, and
recomputes the hash chain itself with an INDEPENDENT re-implementation written from the format
(Sources/Audit/HashChain.swift): nothing here calls Portcullis. The chain hash is

    hash = BLAKE2b-256(prev_hash || canonical(writer, seq, event))

where canonical() appends, in this order: writer id (16 raw UUID bytes), seq (int64 big-endian),
event id (16 bytes), time in microseconds since the epoch (int64), kind (text), request_id?,
principal?, auth_method?, action (text), route?, target?, client_address?, outcome (text),
len(policies) (int64) and each policy (text), policy_version?, upstream_status? (as int64),
duration_us? (int64), details?. A text is its UTF-8 length (int64 big-endian) then its bytes; an
optional value (?) is one byte 0 when NULL, else one byte 1 followed by the value.

Checkpoints (Sources/Audit/AuditCheckpoint.swift) are PASETO v4.public tokens with implicit
assertion `portcullis-audit-checkpoint`, footer {"kid":"k4.pid..."} and payload
{"head":"<hex>","seq":N,"writer":"<lower-case uuid>"}; they are signed here with the
`cryptography` package's Ed25519 (PASETO's PAE written out below), never with Portcullis.

    audit_adversary.py DATABASE_URL COMMAND [options]

Commands (each prints ONE JSON object on stdout and changes the database in one transaction):

    check                       recompute every stored record's hash from its columns:
                                {"command","records","matching","writers","mismatches":[{"writer","seq","event_id"}]}
    writers                     {"command","writers":[{"writer","first_seq","last_seq","records","first_action",
                                "last_action","kinds","first_at","last_at","checkpoints","denied_request_ids"}]}
                                ordered by the time of each writer's first record
    flip --request-id R [--keep-checkpoints | --rewrite-checkpoint-heads]
                                the access record R with outcome deny becomes allow, its hash and every later
                                link of its writer are recomputed; that writer's checkpoints at or after it are
                                deleted (or kept as they are, or kept with the recomputed head_hash and their
                                old signed token)
    truncate --writer W --count N
                                delete W's newest N records and its checkpoints from the first deleted seq on
    drop-writer --writer W      delete all of W's records and checkpoints
    forge --writer W --principal P --action A [--target T] [--details JSON] [--auth-method M] [--before-stop]
                                append an admin event (outcome "applied", auth method "cli" unless told) chained
                                to W's last record; with --before-stop, when W's last record is its writer.stop,
                                insert it before the stop instead (the stop moves one seq on and is re-chained,
                                W's checkpoints from the forged seq on are deleted) so the chain still ends cleanly
    inject-key [--sign-checkpoints]
                                add a published ('retiring', far-future dates) Ed25519 key without a sealed seed
                                to the `tokens` ring of identity_signing_keys and NOTIFY the identity service;
                                with --sign-checkpoints, re-sign every checkpoint (new token and key_id) with it

Dependencies: psycopg 3 and cryptography (scripts/requirements-test.txt).
"""

import argparse
import base64
import datetime
import hashlib
import json
import struct
import sys
import time
import uuid

import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

GENESIS = bytes(32)
CHECKPOINT_ASSERTION = b"portcullis-audit-checkpoint"
# 2100-01-01T00:00:00Z: a retiring key whose retirement began there is never retired by rotation.
FAR_FUTURE = 4_102_444_800.0
# The daily partition creators' advisory lock ("auditpar"), as the audit writer takes it.
PARTITION_LOCK = 0x6175_6469_7470_6172

COLUMNS = (
    "id, (extract(epoch from occurred_at) * 1000000)::bigint AS micros, kind, request_id, principal, auth_method, "
    "action, route, target, client_address, outcome, policies, policy_version, upstream_status, duration_us, details, "
    "writer_id, seq, prev_hash, hash"
)
FIELDS = [
    "id", "micros", "kind", "request_id", "principal", "auth_method", "action", "route", "target", "client_address",
    "outcome", "policies", "policy_version", "upstream_status", "duration_us", "details", "writer_id", "seq",
    "prev_hash", "hash",
]


# MARK: The chain hash, from the format


def _int64(value):
    return struct.pack(">q", value)


def _text(value):
    data = value.encode("utf-8")
    return _int64(len(data)) + data


def _optional(value, encode):
    return b"\x00" if value is None else b"\x01" + encode(value)


def canonical(record):
    """The canonical encoding of one record (a dict of the columns) at its writer and seq."""
    parts = [
        record["writer_id"].bytes,
        _int64(record["seq"]),
        record["id"].bytes,
        _int64(record["micros"]),
        _text(record["kind"]),
        _optional(record["request_id"], _text),
        _optional(record["principal"], _text),
        _optional(record["auth_method"], _text),
        _text(record["action"]),
        _optional(record["route"], _text),
        _optional(record["target"], _text),
        _optional(record["client_address"], _text),
        _text(record["outcome"]),
        _int64(len(record["policies"])),
    ]
    parts += [_text(policy) for policy in record["policies"]]
    parts += [
        _optional(record["policy_version"], _text),
        _optional(record["upstream_status"], _int64),
        _optional(record["duration_us"], _int64),
        _optional(record["details"], _text),
    ]
    return b"".join(parts)


def chain_hash(record, prev_hash):
    return hashlib.blake2b(bytes(prev_hash) + canonical(record), digest_size=32).digest()


# MARK: PASETO v4.public and PASERK, from their specifications


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pae(*pieces):
    """Pre-authentication encoding (PASETO Common.md): count and lengths as little-endian uint64."""
    out = struct.pack("<Q", len(pieces))
    for piece in pieces:
        out += struct.pack("<Q", len(piece)) + piece
    return out


def paseto_v4_public_sign(secret, message, footer, implicit):
    header = b"v4.public."
    signature = secret.sign(pae(header, message, footer, implicit))
    token = header.decode() + b64url(message + signature)
    return token + ("." + b64url(footer) if footer else "")


def paserk_public(public_raw):
    return "k4.public." + b64url(public_raw)


def paserk_pid(paserk):
    """PASERK ID (operations/ID.md): k4.pid. + base64url(BLAKE2b-264(header || paserk))."""
    header = "k4.pid."
    return header + b64url(hashlib.blake2b((header + paserk).encode(), digest_size=33).digest())


def checkpoint_payload(writer, seq, head):
    return json.dumps({"head": bytes(head).hex(), "seq": seq, "writer": str(writer)}, sort_keys=True, separators=(",", ":"))


# MARK: Reading and writing the tables


def fetch_records(cursor, where="", params=()):
    cursor.execute(f"SELECT {COLUMNS} FROM audit_events {where} ORDER BY writer_id, seq", params)
    return [normalise(dict(zip(FIELDS, row))) for row in cursor.fetchall()]


def normalise(record):
    record["prev_hash"] = bytes(record["prev_hash"])
    record["hash"] = bytes(record["hash"])
    record["policies"] = list(record["policies"] or [])
    return record


def writer_id(text):
    try:
        return uuid.UUID(text)
    except ValueError:
        raise SystemExit(f"not a writer id: {text!r}")


def writer_records(cursor, writer):
    records = fetch_records(cursor, "WHERE writer_id = %s", (writer,))
    if not records:
        raise SystemExit(f"writer {writer} has no records")
    return records


def rechain(cursor, records, start, previous):
    """Recomputes prev_hash and hash of records[start:] from `previous` on and stores them, with
    their (possibly changed) seq and outcome; each row is found by its primary key (occurred_at, id).

    Returns the new hashes by seq."""
    rewritten = {}
    for record in records[start:]:
        record["prev_hash"] = previous
        record["hash"] = chain_hash(record, previous)
        cursor.execute(
            "UPDATE audit_events SET prev_hash = %s, hash = %s, seq = %s, outcome = %s "
            "WHERE writer_id = %s AND id = %s AND occurred_at = timestamptz 'epoch' + %s * interval '1 microsecond'",
            (record["prev_hash"], record["hash"], record["seq"], record["outcome"], record["writer_id"], record["id"],
             record["micros"]),
        )
        if cursor.rowcount != 1:
            raise SystemExit(f"record {record['id']} could not be updated ({cursor.rowcount} rows)")
        rewritten[record["seq"]] = record["hash"]
        previous = record["hash"]
    return rewritten


def delete_checkpoints(cursor, writer, from_seq):
    cursor.execute("DELETE FROM audit_checkpoints WHERE writer_id = %s AND seq >= %s RETURNING seq", (writer, from_seq))
    return sorted(row[0] for row in cursor.fetchall())


def ensure_partition(cursor, micros):
    """Creates the daily partition holding `micros` as the audit writer would, if it is missing."""
    day = micros // 86_400_000_000
    name = "audit_events_p" + (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).strftime("%Y%m%d")
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
    if cursor.fetchone()[0]:
        return
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
    if cursor.fetchone()[0]:
        return
    lower, upper = day * 86_400, (day + 1) * 86_400
    cursor.execute(f"CREATE TABLE {name} (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_range CHECK ("
        f"occurred_at >= timestamptz 'epoch' + interval '{lower} seconds' AND "
        f"occurred_at < timestamptz 'epoch' + interval '{upper} seconds')")
    cursor.execute(
        f"ALTER TABLE audit_events ATTACH PARTITION {name} FOR VALUES FROM "
        f"(timestamptz 'epoch' + interval '{lower} seconds') TO (timestamptz 'epoch' + interval '{upper} seconds')")


def iso(micros):
    moment = datetime.datetime.fromtimestamp(0, datetime.timezone.utc) + datetime.timedelta(microseconds=micros)
    return moment.isoformat().replace("+00:00", "Z")


# MARK: Commands


def command_check(cursor, _arguments):
    records = fetch_records(cursor)
    mismatches = [
        {"writer": str(record["writer_id"]), "seq": record["seq"], "event_id": str(record["id"])}
        for record in records
        if chain_hash(record, record["prev_hash"]) != record["hash"]
    ]
    return {
        "command": "check",
        "records": len(records),
        "matching": len(records) - len(mismatches),
        "writers": len({record["writer_id"] for record in records}),
        "mismatches": mismatches,
    }


def command_writers(cursor, _arguments):
    records = fetch_records(cursor)
    cursor.execute("SELECT writer_id, count(*) FROM audit_checkpoints GROUP BY writer_id")
    checkpoints = {writer: count for writer, count in cursor.fetchall()}
    chains = {}
    for record in records:
        chains.setdefault(record["writer_id"], []).append(record)
    listing = []
    for writer, chain in chains.items():
        listing.append({
            "writer": str(writer),
            "first_seq": chain[0]["seq"],
            "last_seq": chain[-1]["seq"],
            "records": len(chain),
            "first_action": chain[0]["action"],
            "last_action": chain[-1]["action"],
            "kinds": sorted({record["kind"] for record in chain}),
            "first_at": iso(min(record["micros"] for record in chain)),
            "last_at": iso(max(record["micros"] for record in chain)),
            "checkpoints": checkpoints.get(writer, 0),
            "denied_request_ids": [
                record["request_id"] for record in chain
                if record["kind"] == "access" and record["outcome"] == "deny" and record["request_id"] is not None
            ],
            "_first": min(record["micros"] for record in chain),
        })
    listing.sort(key=lambda entry: (entry["_first"], entry["writer"]))
    for entry in listing:
        del entry["_first"]
    return {"command": "writers", "writers": listing}


def command_flip(cursor, arguments):
    cursor.execute(
        "SELECT writer_id, seq FROM audit_events WHERE request_id = %s AND kind = 'access' AND outcome = 'deny'",
        (arguments.request_id,))
    matches = cursor.fetchall()
    if len(matches) != 1:
        raise SystemExit(f"expected one denied access record with request id {arguments.request_id!r}, found {len(matches)}")
    writer, seq = matches[0]
    records = writer_records(cursor, writer)
    index = next(i for i, record in enumerate(records) if record["seq"] == seq)
    target = records[index]
    target["outcome"] = "allow"
    rewritten = rechain(cursor, records, index, target["prev_hash"])

    result = {
        "command": "flip", "writer": str(writer), "seq": seq, "event_id": str(target["id"]),
        "request_id": arguments.request_id, "outcome_before": "deny", "outcome_after": "allow",
        "rechained": len(rewritten) - 1, "last_seq": records[-1]["seq"], "hash": target["hash"].hex(),
        "checkpoints_deleted": [], "checkpoints_kept": [], "checkpoints_rewritten": [],
    }
    if arguments.rewrite_checkpoint_heads:
        cursor.execute("SELECT seq FROM audit_checkpoints WHERE writer_id = %s AND seq >= %s ORDER BY seq", (writer, seq))
        for (checkpoint_seq,) in cursor.fetchall():
            if checkpoint_seq in rewritten:
                cursor.execute(
                    "UPDATE audit_checkpoints SET head_hash = %s WHERE writer_id = %s AND seq = %s",
                    (rewritten[checkpoint_seq], writer, checkpoint_seq))
                result["checkpoints_rewritten"].append(checkpoint_seq)
            else:
                result["checkpoints_kept"].append(checkpoint_seq)
    elif arguments.keep_checkpoints:
        cursor.execute("SELECT seq FROM audit_checkpoints WHERE writer_id = %s AND seq >= %s ORDER BY seq", (writer, seq))
        result["checkpoints_kept"] = [row[0] for row in cursor.fetchall()]
    else:
        result["checkpoints_deleted"] = delete_checkpoints(cursor, writer, seq)
    cursor.execute("SELECT seq FROM audit_checkpoints WHERE writer_id = %s AND seq < %s ORDER BY seq", (writer, seq))
    result["checkpoints_before"] = [row[0] for row in cursor.fetchall()]
    return result


def command_truncate(cursor, arguments):
    writer = writer_id(arguments.writer)
    if arguments.count < 1:
        raise SystemExit("--count must be at least 1")
    records = writer_records(cursor, writer)
    if arguments.count > len(records):
        raise SystemExit(f"writer {writer} has only {len(records)} records (use drop-writer)")
    doomed = records[-arguments.count:]
    for record in doomed:
        cursor.execute(
            "DELETE FROM audit_events WHERE writer_id = %s AND id = %s "
            "AND occurred_at = timestamptz 'epoch' + %s * interval '1 microsecond'",
            (writer, record["id"], record["micros"]))
    remaining = records[:-arguments.count]
    return {
        "command": "truncate", "writer": str(writer), "deleted": len(doomed),
        "deleted_seqs": [record["seq"] for record in doomed],
        "event_ids": [str(record["id"]) for record in doomed],
        "deleted_actions": [record["action"] for record in doomed],
        "last_seq": remaining[-1]["seq"] if remaining else None,
        "checkpoints_deleted": delete_checkpoints(cursor, writer, doomed[0]["seq"]),
    }


def command_drop_writer(cursor, arguments):
    writer = writer_id(arguments.writer)
    cursor.execute("DELETE FROM audit_events WHERE writer_id = %s RETURNING seq", (writer,))
    seqs = sorted(row[0] for row in cursor.fetchall())
    if not seqs:
        raise SystemExit(f"writer {writer} has no records")
    cursor.execute("DELETE FROM audit_checkpoints WHERE writer_id = %s RETURNING seq", (writer,))
    checkpoints = sorted(row[0] for row in cursor.fetchall())
    return {
        "command": "drop-writer", "writer": str(writer), "records_deleted": len(seqs), "first_seq": seqs[0],
        "last_seq": seqs[-1], "checkpoints_deleted": checkpoints,
    }


def command_forge(cursor, arguments):
    writer = writer_id(arguments.writer)
    records = writer_records(cursor, writer)
    last = records[-1]
    before_stop = arguments.before_stop and last["kind"] == "writer" and last["action"] == "writer.stop"
    anchor = records[-2] if before_stop else last
    if before_stop and len(records) < 2:
        raise SystemExit(f"writer {writer} has nothing before its stop")
    micros = time.time_ns() // 1_000
    forged = {
        "id": uuid.uuid4(), "micros": micros, "kind": "admin", "request_id": None, "principal": arguments.principal,
        "auth_method": arguments.auth_method, "action": arguments.action, "route": None, "target": arguments.target,
        "client_address": None, "outcome": "applied", "policies": [], "policy_version": None, "upstream_status": None,
        "duration_us": None, "details": arguments.details, "writer_id": writer, "seq": anchor["seq"] + 1,
    }
    forged["prev_hash"] = anchor["hash"]
    forged["hash"] = chain_hash(forged, anchor["hash"])
    result = {"command": "forge", "writer": str(writer), "before_stop": before_stop, "checkpoints_deleted": []}
    if before_stop:
        # The stop moves one place on, re-chained behind the forged record; the checkpoints that
        # vouched for the old stop would now name the forged record, so they go.
        result["checkpoints_deleted"] = delete_checkpoints(cursor, writer, forged["seq"])
        last["seq"] += 1
        rechain(cursor, [last], 0, forged["hash"])
        result["stop_seq"] = last["seq"]
    ensure_partition(cursor, micros)
    cursor.execute(
        "INSERT INTO audit_events (id, occurred_at, kind, request_id, principal, auth_method, action, route, target, "
        "client_address, outcome, policies, policy_version, upstream_status, duration_us, details, writer_id, seq, "
        "prev_hash, hash) VALUES (%s, timestamptz 'epoch' + %s * interval '1 microsecond', %s, %s, %s, %s, %s, %s, %s, "
        "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        tuple(forged[field] for field in FIELDS))
    result.update({
        "seq": forged["seq"], "event_id": str(forged["id"]), "occurred_at": iso(micros), "kind": "admin",
        "principal": arguments.principal, "action": arguments.action, "outcome": "applied",
        "prev_hash": forged["prev_hash"].hex(), "hash": forged["hash"].hex(),
    })
    return result


def command_inject_key(cursor, arguments):
    secret = ed25519.Ed25519PrivateKey.generate()
    public_raw = secret.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    paserk = paserk_public(public_raw)
    kid = paserk_pid(paserk)
    now = time.time()
    # As Tokens.KeyRecord encodes (JSONEncoder, dates as seconds since 1970); no sealedSeed, which
    # only the master key could produce and which a key that never signs for Portcullis never needs.
    record = {
        "id": kid, "publicKey": paserk, "state": "retiring", "createdAt": now, "activatedAt": now,
        "retiringAt": FAR_FUTURE,
    }
    cursor.execute(
        "INSERT INTO identity_signing_keys (id, record, ring) VALUES (%s, %s::jsonb, 'tokens')", (kid, json.dumps(record)))
    # What the key store announces after a rotation, so running services reload their keys now.
    cursor.execute("SELECT pg_notify('portcullis_identity', %s)", ('{"type":"keys"}',))
    signed = []
    if arguments.sign_checkpoints:
        footer = json.dumps({"kid": kid}, separators=(",", ":")).encode()
        cursor.execute("SELECT writer_id, seq, head_hash FROM audit_checkpoints ORDER BY writer_id, seq")
        for writer, seq, head in cursor.fetchall():
            token = paseto_v4_public_sign(secret, checkpoint_payload(writer, seq, head).encode(), footer, CHECKPOINT_ASSERTION)
            cursor.execute(
                "UPDATE audit_checkpoints SET key_id = %s, token = %s WHERE writer_id = %s AND seq = %s",
                (kid, token, writer, seq))
            signed.append({"writer": str(writer), "seq": seq})
    return {
        "command": "inject-key", "kid": kid, "public_key_hex": public_raw.hex(), "paserk": paserk, "state": "retiring",
        "ring": "tokens", "checkpoints_signed": len(signed), "signed": signed,
    }


def parser():
    main = argparse.ArgumentParser(description="Tamper with Portcullis's audit trail as a database writer without the master key.")
    main.add_argument("database_url")
    commands = main.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="recompute every record's hash")
    commands.add_parser("writers", help="list the writers (chains)")
    flip = commands.add_parser("flip", help="turn a denied access record into an allowed one")
    flip.add_argument("--request-id", required=True)
    keep = flip.add_mutually_exclusive_group()
    keep.add_argument("--keep-checkpoints", action="store_true")
    keep.add_argument("--rewrite-checkpoint-heads", action="store_true")
    truncate = commands.add_parser("truncate", help="delete a writer's newest records")
    truncate.add_argument("--writer", required=True)
    truncate.add_argument("--count", type=int, required=True)
    drop = commands.add_parser("drop-writer", help="delete a writer's whole chain")
    drop.add_argument("--writer", required=True)
    forge = commands.add_parser("forge", help="append a forged admin event")
    forge.add_argument("--writer", required=True)
    forge.add_argument("--principal", required=True)
    forge.add_argument("--action", required=True)
    forge.add_argument("--target")
    forge.add_argument("--details")
    forge.add_argument("--auth-method", default="cli")
    forge.add_argument("--before-stop", action="store_true")
    inject = commands.add_parser("inject-key", help="publish an Ed25519 key the adversary holds")
    inject.add_argument("--sign-checkpoints", action="store_true")
    return main


COMMANDS = {
    "check": command_check, "writers": command_writers, "flip": command_flip, "truncate": command_truncate,
    "drop-writer": command_drop_writer, "forge": command_forge, "inject-key": command_inject_key,
}


def main():
    arguments = parser().parse_args()
    with psycopg.connect(arguments.database_url) as connection:
        with connection.transaction(), connection.cursor() as cursor:
            result = COMMANDS[arguments.command](cursor, arguments)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
