package governance

import "github.com/redis/go-redis/v9"

// The Redis limiter's scripts. Each Limiter call is one EVALSHA: Redis
// runs a script alone, so a check and its increments across every scope
// are one atomic step, as Memory's mutex makes them in one process.
//
// Keys, per scope, under base = prefix + scope ("switchboard:tenant:a"):
//
//	base:rpm, base:tpm   hash l (level, units·ms), t (Unix ms): token buckets
//	base:leases          zset reservation id -> lease expiry (Unix ms)
//	base:held            hash reservation id -> "cost day month dayExp monthExp"
//	base:s:<period>      hash s (settled nano-USD), r (reserved nano-USD)
//
// The scripts build the keys of a scope from its base, so the limiter
// needs one Redis (standalone or Sentinel), not Cluster.
//
// Maths. Lua 5.1 numbers are doubles: exact for integers below 2^53.
// Bucket levels stay below 1e9 (config's maxRate) × 60000 = 6e13, so they
// are computed as numbers and written with %.0f (tostring would print
// 6e+13). Money is int64 nano-USD, up to 1e18: it is never a Lua number.
// Redis keeps it (HINCRBY, exact int64) and the scripts compare it as two
// limbs, hi·1e9 + lo.
const luaLib = `
local E = 1000000000
local MIN = 60000
local BUCKET_TTL = 86400000

local function num(x) return string.format('%.0f', x) end

-- limbs: a decimal int64 string as hi*E + lo with 0 <= lo < E.
local function limbs(s)
  if not s then return 0, 0 end
  local neg = false
  if string.sub(s, 1, 1) == '-' then neg = true; s = string.sub(s, 2) end
  local hi = tonumber(string.sub(s, 1, -10)) or 0
  local lo = tonumber(string.sub(s, -9)) or 0
  if neg then hi, lo = -hi, -lo end
  local c = math.floor(lo / E)
  return hi + c, lo - c * E
end

local function add(ah, al, bh, bl)
  local h, l = ah + bh, al + bl
  local c = math.floor(l / E)
  return h + c, l - c * E
end

local function gt(ah, al, bh, bl) return ah > bh or (ah == bh and al > bl) end

local function fmt(h, l)
  if h == 0 then return num(l) end
  return num(h) .. string.format('%09.0f', l)
end

-- bucket: a token bucket's level refilled to now (created full). A minute
-- refills any bucket; a changed limit keeps the level, capped.
local function bucket(key, limit, now)
  local v = redis.call('HMGET', key, 'l', 't')
  local cap = limit * MIN
  local level, at
  if not v[1] then
    level, at = cap, now
  else
    level, at = tonumber(v[1]), tonumber(v[2])
    local el = now - at
    if el > 0 then
      level = level + math.min(el, MIN) * limit
      at = now
    end
  end
  return math.min(level, cap), at
end

local function save(key, level, at)
  redis.call('HSET', key, 'l', num(level), 't', num(at))
  redis.call('PEXPIRE', key, BUCKET_TTL)
end

local function incr(key, field, by, expat)
  if by == '0' then return end
  if string.sub(by, 1, 2) == '--' then by = string.sub(by, 3) end
  if by == '-0' then return end
  redis.call('HINCRBY', key, field, by)
  if expat then redis.call('PEXPIREAT', key, expat) end
end

-- release: end a reservation's lease and refund what it holds.
local function release(base, id)
  redis.call('ZREM', base .. ':leases', id)
  local h = redis.call('HGET', base .. ':held', id)
  if not h then return end
  redis.call('HDEL', base .. ':held', id)
  local cost, day, month, dexp, mexp = string.match(h, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  incr(base .. ':s:' .. day, 'r', '-' .. cost, dexp)
  incr(base .. ':s:' .. month, 'r', '-' .. cost, mexp)
  incr(base .. ':s:lifetime', 'r', '-' .. cost, false)
end

-- purge: release the reservations whose lease ran out (a replica died
-- mid-request, or never settled).
local function purge(base, now)
  local ids = redis.call('ZRANGEBYSCORE', base .. ':leases', '-inf', num(now))
  for _, id in ipairs(ids) do release(base, id) end
end

-- hold: add cost to reservation id's hold on a scope (creating it) and
-- renew its lease.
local function hold(base, id, cost, day, month, dexp, mexp, expiry)
  local h = redis.call('HGET', base .. ':held', id)
  local total = cost
  if h then
    local old = string.match(h, '^(%S+) ')
    local ah, al = limbs(old)
    local bh, bl = limbs(cost)
    total = fmt(add(ah, al, bh, bl))
    day, month, dexp, mexp = string.match(h, '^%S+ (%S+) (%S+) (%S+) (%S+)$')
  end
  redis.call('HSET', base .. ':held', id, total .. ' ' .. day .. ' ' .. month .. ' ' .. dexp .. ' ' .. mexp)
  redis.call('ZADD', base .. ':leases', num(expiry), id)
  incr(base .. ':s:' .. day, 'r', cost, dexp)
  incr(base .. ':s:' .. month, 'r', cost, mexp)
  incr(base .. ':s:lifetime', 'r', cost, false)
end

-- over: whether spent+reserved (+cost) crosses a budget: at reserve,
-- refused when used >= budget or used+cost > budget; at extend, when
-- used+cost > budget.
local function over(s, r, cost, bud, atReserve)
  local sh, sl = limbs(s)
  local rh, rl = limbs(r)
  local uh, ul = add(sh, sl, rh, rl)
  local bh, bl = limbs(bud)
  local ch, cl = limbs(cost)
  local th, tl = add(uh, ul, ch, cl)
  if atReserve and not gt(bh, bl, uh, ul) then return true end
  return gt(th, tl, bh, bl)
end
`

// reserveScript: KEYS are the scopes' bases. ARGV: now, lease ms, id,
// tokens, cost, day, month, day key expiry, month key expiry, then per
// scope: rpm, tpm, concurrent, and per period budget and soft (0|1).
// Returns {admitted, per scope: rpm level, tpm level (false when
// unlimited), reservations in flight, then settled and reserved for day,
// month, lifetime}: the state before this request, from which the client
// builds the refusal or status exactly as Memory does.
var reserveScript = redis.NewScript(luaLib + `
local now, lease, id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local tokens, cost = tonumber(ARGV[4]), ARGV[5]
local periods = {ARGV[6], ARGV[7], 'lifetime'}
local ok = true
local out = {0}
local levels = {}
for i, base in ipairs(KEYS) do
  local a = 9 + (i - 1) * 9
  local rpm, tpm, conc = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  purge(base, now)
  local n = redis.call('ZCARD', base .. ':leases')
  if conc > 0 and n >= conc then ok = false end
  local rl, ra, tl, ta = false, 0, false, 0
  if rpm > 0 then
    rl, ra = bucket(base .. ':rpm', rpm, now)
    save(base .. ':rpm', rl, ra)
    if rpm < 1 or rl < MIN then ok = false end
  end
  if tpm > 0 then
    tl, ta = bucket(base .. ':tpm', tpm, now)
    save(base .. ':tpm', tl, ta)
    if tokens > tpm or tl < tokens * MIN then ok = false end
  end
  levels[i] = {rl, ra, tl, ta}
  table.insert(out, rl and num(rl) or false)
  table.insert(out, tl and num(tl) or false)
  table.insert(out, n)
  for p = 1, 3 do
    local v = redis.call('HMGET', base .. ':s:' .. periods[p], 's', 'r')
    local s, r = v[1] or '0', v[2] or '0'
    table.insert(out, s)
    table.insert(out, r)
    local bud, soft = ARGV[a + 2 + 2 * p], ARGV[a + 3 + 2 * p]
    if bud ~= '0' and soft == '0' and over(s, r, cost, bud, true) then ok = false end
  end
end
if ok then
  out[1] = 1
  for i, base in ipairs(KEYS) do
    local lv = levels[i]
    if lv[1] then save(base .. ':rpm', lv[1] - MIN, lv[2]) end
    if lv[3] then save(base .. ':tpm', lv[3] - tokens * MIN, lv[4]) end
    hold(base, id, cost, ARGV[6], ARGV[7], ARGV[8], ARGV[9], now + lease)
  end
end
return out
`)

// extendScript: KEYS the bases; ARGV: now, lease ms, id, cost, day,
// month, day key expiry, month key expiry, then per scope and period the
// hard budget (0: none or soft). Returns {0} when extended, else {scope
// index, period index} of the budget it would cross.
var extendScript = redis.NewScript(luaLib + `
local now, lease, id, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local periods = {ARGV[5], ARGV[6], 'lifetime'}
for i, base in ipairs(KEYS) do
  purge(base, now)
  for p = 1, 3 do
    local bud = ARGV[8 + (i - 1) * 3 + p]
    if bud ~= '0' then
      local v = redis.call('HMGET', base .. ':s:' .. periods[p], 's', 'r')
      if over(v[1] or '0', v[2] or '0', cost, bud, false) then return {i, p} end
    end
  end
end
for _, base in ipairs(KEYS) do
  hold(base, id, cost, ARGV[5], ARGV[6], ARGV[7], ARGV[8], now + lease)
end
return {0}
`)

// settleScript: KEYS the bases; ARGV: now, id, tokens reserved, tokens
// used, cost used, day, month, day key expiry, month key expiry, then per
// scope its tpm. Refunds the hold (whatever Extend added; nothing when
// its lease already ran out), charges the cost, corrects the token
// bucket.
var settleScript = redis.NewScript(luaLib + `
local now, id = tonumber(ARGV[1]), ARGV[2]
local reserved, used, cost = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
for i, base in ipairs(KEYS) do
  release(base, id)
  incr(base .. ':s:' .. ARGV[6], 's', cost, ARGV[8])
  incr(base .. ':s:' .. ARGV[7], 's', cost, ARGV[9])
  incr(base .. ':s:lifetime', 's', cost, false)
  local tpm = tonumber(ARGV[9 + i])
  if tpm > 0 then
    local l, at = bucket(base .. ':tpm', tpm, now)
    save(base .. ':tpm', math.min(l + (reserved - used) * MIN, tpm * MIN), at)
  end
end
return 1
`)

// seedScript: KEYS the spend hashes; ARGV per key: stored spend and the
// key's expiry (0: none). Raises settled spend to the stored one, never
// lowers it: every replica seeds at start, and Redis normally knows more
// than the store (records are written in batches after Settle).
var seedScript = redis.NewScript(luaLib + `
for i, key in ipairs(KEYS) do
  local want, exp = ARGV[2 * i - 1], ARGV[2 * i]
  local have = redis.call('HGET', key, 's') or '0'
  local wh, wl = limbs(want)
  local hh, hl = limbs(have)
  if gt(wh, wl, hh, hl) then
    redis.call('HSET', key, 's', want)
    if exp ~= '0' then redis.call('PEXPIREAT', key, exp) end
  end
end
return 1
`)
