// The Redis store's commands as Lua scripts, so that a value and its namespace's index (a sorted set of keys by
// expiry, which count() and entries() read) change together, and leases are compared and set in one step. Expiry
// is Redis' own clock (TIME), not a node's: two nodes whose clocks differ agree on what has expired.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Writes json ARGV[2] under KEYS[1] and indexes member ARGV[1] in KEYS[2] by its expiry (ttlMs ARGV[3], '0': kept). */
const PUT = `local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], '+inf', ARGV[1])
end`;

/** Stores `value` under KEYS[1] and indexes member ARGV[1] in KEYS[2]; ARGV: member, json, ttlMs ('0': kept), nx. */
export const SET = `${NOW}
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
${PUT}
return 1`;

export const DELETE = `redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])`;

/** A counter whose window (ARGV[2] ms) starts with its first increment. */
export const INCR = `local n = redis.call('INCR', KEYS[1])
if n == 1 then
  ${NOW}
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
end
return n`;

export const COUNT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`;

/** Members and values, flat: [k1, v1, k2, v2, ...]; ARGV[1] is the value keys' prefix. */
export const ENTRIES = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local out = {}
for _, k in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local v = redis.call('GET', ARGV[1] .. k)
  if v then out[#out + 1] = k; out[#out + 1] = v end
end
return out`;

/** KEYS: value, index, fence counter; ARGV: member, owner, ttlMs. The lease as JSON, or nil when another holds it. */
export const ACQUIRE = `${NOW}
local cur = redis.call('GET', KEYS[1])
if cur then
  local l = cjson.decode(cur)
  if l.owner ~= ARGV[2] then return false end
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
  return cur
end
local token = redis.call('INCR', KEYS[3])
local v = cjson.encode({ owner = ARGV[2], token = token })
redis.call('SET', KEYS[1], v, 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return v`;

/** Ends the script with 0 unless the lease under `key` is held by `owner` with `token` (Lua expressions). */
const sameHolder = (key: string, owner: string, token: string) => `local cur = redis.call('GET', ${key})
if not cur then return 0 end
local l = cjson.decode(cur)
if l.owner ~= ${owner} or tostring(l.token) ~= ${token} then return 0 end`;
const SAME_HOLDER = sameHolder('KEYS[1]', 'ARGV[2]', 'ARGV[3]');

/** KEYS: value, index; ARGV: member, owner, token, ttlMs. */
export const RENEW = `${NOW}
${SAME_HOLDER}
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
return 1`;

/**
 * A write that depends on a lease. KEYS: value, index, the lease's value key; ARGV: member, json ('': delete), ttlMs
 * ('0': kept), owner, token. 0 when the lease is no longer that holder's.
 */
export const FENCED = `${NOW}
${sameHolder('KEYS[3]', 'ARGV[4]', 'ARGV[5]')}
if ARGV[2] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('DEL', KEYS[1])
  return 1
end
${PUT}
return 1`;

/** KEYS: value, index; ARGV: member, owner, token. */
export const RELEASE = `${SAME_HOLDER}
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])`;

/** After Redis lost its data: the fence counter KEYS[1] is raised to a republished lease's token ARGV[1], so tokens stay monotonic. */
export const FENCE_FLOOR = `if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`;
