// One Lua script applies a whole batch: Redis runs a script atomically (no other client sees half a
// batch), and unlike MULTI it can check before it writes. Redis has no rollback, so the script first
// walks every effect and checks that each key holds the type the effect needs (a feed is a sorted set,
// post stats a hash, ...) and that every counter it increments is numeric; only then does it write.
// A batch that would fail therefore changes nothing: neither views nor offsets.
//
// KEYS: [1] offsets hash of the processor, [2] set of generations, [3..] the view keys of the batch.
// ARGV: now, generation, offsetCount, (field, offset)*, then ONE msgpack array of every effect, flat:
//   opcode, keyIndex, operands...
//   za member score cap(0=none) | zm cap n (member score)* | zr member | zt tag | zp n (member score)*
//   sa member expiresAt | sr member | hs n (field value)* | hi field by | dl
// 'zm' is a run of capped adds of distinct members (the store sends a key's effects together). Adding
// them all and trimming once gives what adding and trimming one by one gives, as long as no member
// changes its score (a trimmed member never comes back, and trims only take from the bottom): the
// script checks that with one ZMSCORE and takes the runs one by one otherwise. 's+' and 's-' are 'sa'
// and 'sr' without the trim of expired members: the store sends them before the last change of a run
// of set changes on one key, whose trim (same 'now') removes what the skipped ones would have.
// One packed argument instead of one argument per operand: with 100k+ operands per batch, building,
// sending and parsing the arguments cost more than the writes (client CPU, Redis' Lua and GC). The
// flat array is walked twice by index, so the script allocates no table per effect. Scores travel as
// strings: Redis turns Lua numbers into text with 14 significant digits, strings keep every digit.
export const APPLY_BATCH_LUA = `
local now = ARGV[1]
local generation = ARGV[2]
local nOffsets = tonumber(ARGV[3])
local ops = cmsgpack.unpack(ARGV[4 + nOffsets * 2])
local nOps = #ops

-- How many array slots the effect starting at i takes (opcode and key index included).
local function width(i)
  local c = ops[i]
  if c == 'za' then return 5
  elseif c == 'zr' or c == 'zt' or c == 'sr' or c == 's-' then return 3
  elseif c == 'sa' or c == 's+' or c == 'hi' then return 4
  elseif c == 'zp' or c == 'hs' then return 3 + ops[i + 2] * 2
  elseif c == 'zm' then return 4 + ops[i + 3] * 2
  elseif c == 'dl' then return 2 end
  return nil
end

-- Pass 1: check types, without writing. 'types' follows the batch as it would change each key.
local types = {}
local fields = {}
local function typeOf(k)
  local t = types[k]
  if t == nil then t = redis.call('TYPE', KEYS[k]).ok; types[k] = t end
  return t
end
local function need(k, wanted, op)
  local t = typeOf(k)
  if t ~= 'none' and t ~= wanted then
    return 'WRONGTYPE darkroom: ' .. op .. ' needs ' .. KEYS[k] .. ' to be a ' .. wanted .. ' but it is a ' .. t
  end
  types[k] = wanted
end
local count = 0
local i = 1
while i <= nOps do
  local c, k, err = ops[i], ops[i + 1], nil
  local w = width(i)
  if w == nil then return redis.error_reply('ERR darkroom: unknown opcode ' .. tostring(c)) end
  if c == 'dl' then types[k] = 'none'; fields[k] = {}
  elseif c == 'hs' or c == 'hi' then
    err = need(k, 'hash', c == 'hs' and 'hset' or 'hincr')
    fields[k] = fields[k] or {}
    if c == 'hs' then
      for j = i + 3, i + w - 1, 2 do fields[k][ops[j]] = ops[j + 1] end
    elseif not err then
      local field = ops[i + 2]
      local v = fields[k][field]
      if v == nil then v = redis.call('HGET', KEYS[k], field) end
      if v and not tonumber(v) then
        err = 'ERR darkroom: hincr of ' .. KEYS[k] .. ' field ' .. field .. ' which holds a non-number'
      end
      fields[k][field] = '0'
    end
  else err = need(k, 'zset', c) end
  if err then return redis.error_reply(err) end
  count = count + 1
  i = i + w
end

-- Pass 2: write.
local function trimExpired(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #top == 0 then return end
  if top[2] == 'inf' then redis.call('PERSIST', key)
  else redis.call('PEXPIREAT', key, string.format('%.0f', math.ceil(tonumber(top[2])))) end
end
-- Keeps the cap highest of a capped set (cap 0: no cap).
local function trimToCap(key, cap)
  if cap > 0 then redis.call('ZREMRANGEBYRANK', key, 0, -(cap + 1)) end
end
-- Whether none of n (member, score) pairs from 'from' on would change the score of a member the set holds.
local function keepsScores(key, from, n)
  local s = 0
  while s < n do
    local e = math.min(s + 256, n)
    local members = {}
    for j = s, e - 1 do members[#members + 1] = ops[from + j * 2] end
    local held = redis.call('ZMSCORE', key, unpack(members))
    for j = s, e - 1 do
      local old = held[j - s + 1]
      if old then
        local new = ops[from + j * 2 + 1]
        if old ~= new and (tonumber(old) == nil or tonumber(old) ~= tonumber(new)) then return false end
      end
    end
    s = e
  end
  return true
end
-- n (first, second) pairs from 'from' on, in chunks, as (first, second) or swapped as (second, first).
local function inChunks(key, command, list, from, n, swap)
  local s = 0
  while s < n do
    local e = math.min(s + 256, n)
    local args = {}
    for j = s, e - 1 do
      local a, b = list[from + j * 2], list[from + j * 2 + 1]
      if swap then a, b = b, a end
      args[#args + 1] = a
      args[#args + 1] = b
    end
    redis.call(command, key, unpack(args))
    s = e
  end
end
i = 1
while i <= nOps do
  local c, key = ops[i], KEYS[ops[i + 1]]
  local w = width(i)
  if c == 'za' then
    redis.call('ZADD', key, ops[i + 3], ops[i + 2])
    trimToCap(key, ops[i + 4])
  elseif c == 'zm' then
    local cap, n = ops[i + 2], ops[i + 3]
    if keepsScores(key, i + 4, n) then
      inChunks(key, 'ZADD', ops, i + 4, n, true)
      trimToCap(key, cap)
    else
      for j = i + 4, i + 2 + n * 2, 2 do
        redis.call('ZADD', key, ops[j + 1], ops[j])
        trimToCap(key, cap)
      end
    end
  elseif c == 'zr' then redis.call('ZREM', key, ops[i + 2])
  elseif c == 'zt' then
    local tag = ops[i + 2]
    local doomed = {}
    for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
      if (string.match(m, '|([^|]*)$') or '') == tag then doomed[#doomed + 1] = m end
    end
    for s = 1, #doomed, 256 do redis.call('ZREM', key, unpack(doomed, s, math.min(s + 255, #doomed))) end
  elseif c == 'zp' then
    redis.call('DEL', key)
    -- entries are (member, score); ZADD wants (score, member)
    inChunks(key, 'ZADD', ops, i + 3, ops[i + 2], true)
  elseif c == 'sa' then
    redis.call('ZADD', key, ops[i + 3], ops[i + 2])
    trimExpired(key)
  elseif c == 'sr' then
    redis.call('ZREM', key, ops[i + 2])
    trimExpired(key)
  elseif c == 's+' then redis.call('ZADD', key, ops[i + 3], ops[i + 2])
  elseif c == 's-' then redis.call('ZREM', key, ops[i + 2])
  elseif c == 'hs' then inChunks(key, 'HSET', ops, i + 3, ops[i + 2], false)
  elseif c == 'hi' then redis.call('HINCRBYFLOAT', key, ops[i + 2], ops[i + 3])
  elseif c == 'dl' then redis.call('DEL', key) end
  i = i + w
end

if nOffsets > 0 then inChunks(KEYS[1], 'HSET', ARGV, 4, nOffsets, false) end
redis.call('SADD', KEYS[2], generation)
return count
`;
