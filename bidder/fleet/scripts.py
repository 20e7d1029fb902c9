"""The Lua scripts the fleet runs in Redis, and the key layout they share.

Every script is atomic in Redis, so two nodes never interleave inside one. Keys, for a
prefix ``P`` (``backend.key_prefix``):

- ``P c:{campaign}:spent`` / ``P c:{campaign}:spent:{YYYY-MM-DD}``: charged micros, all
  time and per local day of the reservation (integers).
- ``P c:{campaign}:leases``: hash ``node → "micros day deadline_ms"``, each node's
  outstanding slice (granted − reported charges − returns) for one local day.
- ``P dd:{auction_id}/{imp_id}``: charge de-duplication marker (SET NX EX).
- ``P f:{campaign}:{user_hash}``: sorted set of impressions, member = unique event id,
  score = whole epoch second.
- ``P t:{user_hash}``: hash ``tag → expires_s`` with the key expiring at the last one.
- ``P v:{kind}`` / ``P doc:{kind}``: the current version and document of a distributed
  plan or config; changes are announced on the ``P events`` channel.
"""

from __future__ import annotations

# KEYS: spent, spent_day, leases. ARGV: node, day, add_micros, total_budget,
# daily_budget, ttl_ms, grace_ms. Drops leases whose deadline passed more than grace_ms
# ago (crashed nodes), grants at most add_micros that fit both budgets, renews the
# caller's deadline. Returns {granted, spent, spent_day, leased_by_others}.
LEASE = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node, day = ARGV[1], ARGV[2]
local add = tonumber(ARGV[3])
local total, daily = tonumber(ARGV[4]), tonumber(ARGV[5])
local ttl_ms, grace_ms = tonumber(ARGV[6]), tonumber(ARGV[7])
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
local spent_day = tonumber(redis.call('GET', KEYS[2]) or '0')
local leased, leased_day, mine = 0, 0, 0
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  local amt, d, deadline = string.match(all[i + 1], '^(%-?%d+) (%S+) (%d+)$')
  amt, deadline = tonumber(amt), tonumber(deadline)
  if all[i] == node then
    if d == day then mine = amt end
  elseif deadline + grace_ms < now_ms then
    redis.call('HDEL', KEYS[3], all[i])
  else
    leased = leased + amt
    if d == day then leased_day = leased_day + amt end
  end
end
local grant = math.min(add, total - spent - leased - mine, daily - spent_day - leased_day - mine)
if grant < 0 then grant = 0 end
redis.call('HSET', KEYS[3], node, string.format('%d %s %d', mine + grant, day, now_ms + ttl_ms))
return {grant, spent, spent_day, leased}
"""

# KEYS: dedupe, spent, spent_day, leases. ARGV: node, micros, dedupe_ttl_s, day.
# Charges once per dedupe key: 1 if charged now, 0 if it was charged before.
CHARGE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[3]) then return 0 end
local micros = tonumber(ARGV[2])
redis.call('INCRBY', KEYS[2], micros)
redis.call('INCRBY', KEYS[3], micros)
local v = redis.call('HGET', KEYS[4], ARGV[1])
if v then
  local amt, d, deadline = string.match(v, '^(%-?%d+) (%S+) (%d+)$')
  if d == ARGV[4] then
    amt = math.max(0, tonumber(amt) - micros)
    redis.call('HSET', KEYS[4], ARGV[1], string.format('%d %s %s', amt, d, deadline))
  end
end
return 1
"""

# KEYS: leases. ARGV: node, micros (or -1 for everything). Returns what is left.
RETURN = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local amt, d, deadline = string.match(v, '^(%-?%d+) (%S+) (%d+)$')
local back = tonumber(ARGV[2])
local left = 0
if back >= 0 then left = math.max(0, tonumber(amt) - back) end
if left == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], string.format('%d %s %s', left, d, deadline))
end
return left
"""

# KEYS: impressions zset. ARGV: second, member, cutoff_s, ttl_s. Idempotent per member.
FREQ_RECORD = """
redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return redis.call('ZCARD', KEYS[1])
"""

# KEYS: tag hash. ARGV: expires_s, tag... Sets each tag's expiry; the key lives as long
# as its longest-lived tag.
TAGS_ADD = """
local expires = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], expires) end
local current = redis.call('EXPIRETIME', KEYS[1])
if current < expires then redis.call('EXPIREAT', KEYS[1], expires) end
return 1
"""

# KEYS: version, document. ARGV: version, document, channel, kind. Publishes only a
# newer version; returns the version now current.
PUBLISH_VERSION = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local version = tonumber(ARGV[1])
if version <= current then return current end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], version)
redis.call('PUBLISH', ARGV[3], ARGV[4] .. ' ' .. version)
return version
"""


def campaign_key(prefix: str, campaign_id: str, suffix: str) -> str:
    return f"{prefix}c:{campaign_id}:{suffix}"
