// One Lua script applies a whole batch: Redis runs a script atomically (no other client sees half a
// batch), and unlike MULTI it can check before it writes. Redis has no rollback, so the script first
// walks every effect and checks that each key holds the type the effect needs (a feed is a sorted set,
// post stats a hash, ...) and that every counter it increments is numeric; only then does it write.
// A batch that would fail therefore changes nothing: neither views nor offsets.
//
// KEYS: [1] offsets hash of the processor, [2] set of generations, [3..] the view keys of the batch.
// ARGV: now, generation, offsetCount, (field, offset)*, then effects: opcode, keyIndex, operands.
//   za member score cap(0=none) | zr member | zt tag | zp n (member score)* | sa member expiresAt
//   sr member | hs n (field value)* | hi field by | dl
export const APPLY_BATCH_LUA = `
local now = ARGV[1]
local generation = ARGV[2]
local nOffsets = tonumber(ARGV[3])
local i = 4 + nOffsets * 2
local ops = {}
while i <= #ARGV do
  local op = { code = ARGV[i], k = tonumber(ARGV[i + 1]) }
  i = i + 2
  local c = op.code
  if c == 'za' then op.a = ARGV[i]; op.b = ARGV[i + 1]; op.cap = tonumber(ARGV[i + 2]); i = i + 3
  elseif c == 'zr' or c == 'zt' or c == 'sr' then op.a = ARGV[i]; i = i + 1
  elseif c == 'sa' or c == 'hi' then op.a = ARGV[i]; op.b = ARGV[i + 1]; i = i + 2
  elseif c == 'zp' or c == 'hs' then op.n = tonumber(ARGV[i]); op.from = i + 1; i = i + 1 + op.n * 2
  elseif c ~= 'dl' then return redis.error_reply('ERR darkroom: unknown opcode ' .. tostring(c)) end
  ops[#ops + 1] = op
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
for _, op in ipairs(ops) do
  local c, k, err = op.code, op.k, nil
  if c == 'dl' then types[k] = 'none'; fields[k] = {}
  elseif c == 'hs' or c == 'hi' then
    err = need(k, 'hash', c == 'hs' and 'hset' or 'hincr')
    fields[k] = fields[k] or {}
    if c == 'hs' then
      for j = op.from, op.from + op.n * 2 - 1, 2 do fields[k][ARGV[j]] = ARGV[j + 1] end
    elseif not err then
      local v = fields[k][op.a]
      if v == nil then v = redis.call('HGET', KEYS[k], op.a) end
      if v and not tonumber(v) then
        err = 'ERR darkroom: hincr of ' .. KEYS[k] .. ' field ' .. op.a .. ' which holds a non-number'
      end
      fields[k][op.a] = '0'
    end
  else err = need(k, 'zset', c) end
  if err then return redis.error_reply(err) end
end

-- Pass 2: write.
local function trimExpired(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #top == 0 then return end
  if top[2] == 'inf' then redis.call('PERSIST', key)
  else redis.call('PEXPIREAT', key, string.format('%.0f', math.ceil(tonumber(top[2])))) end
end
local function inChunks(key, command, from, n)
  local chunk = 256
  local s = 0
  while s < n do
    local e = math.min(s + chunk, n)
    local args = {}
    for j = s, e - 1 do
      args[#args + 1] = ARGV[from + j * 2]
      args[#args + 1] = ARGV[from + j * 2 + 1]
    end
    redis.call(command, key, unpack(args))
    s = e
  end
end
for _, op in ipairs(ops) do
  local c, key = op.code, KEYS[op.k]
  if c == 'za' then
    redis.call('ZADD', key, op.b, op.a)
    if op.cap > 0 then redis.call('ZREMRANGEBYRANK', key, 0, -(op.cap + 1)) end
  elseif c == 'zr' then redis.call('ZREM', key, op.a)
  elseif c == 'zt' then
    local doomed = {}
    for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
      if (string.match(m, '|([^|]*)$') or '') == op.a then doomed[#doomed + 1] = m end
    end
    for s = 1, #doomed, 256 do redis.call('ZREM', key, unpack(doomed, s, math.min(s + 255, #doomed))) end
  elseif c == 'zp' then
    redis.call('DEL', key)
    -- entries are (member, score); ZADD wants (score, member)
    local s = 0
    while s < op.n do
      local e = math.min(s + 256, op.n)
      local args = {}
      for j = s, e - 1 do
        args[#args + 1] = ARGV[op.from + j * 2 + 1]
        args[#args + 1] = ARGV[op.from + j * 2]
      end
      redis.call('ZADD', key, unpack(args))
      s = e
    end
  elseif c == 'sa' then
    redis.call('ZADD', key, op.b, op.a)
    trimExpired(key)
  elseif c == 'sr' then
    redis.call('ZREM', key, op.a)
    trimExpired(key)
  elseif c == 'hs' then inChunks(key, 'HSET', op.from, op.n)
  elseif c == 'hi' then redis.call('HINCRBYFLOAT', key, op.a, op.b)
  elseif c == 'dl' then redis.call('DEL', key) end
end

if nOffsets > 0 then inChunks(KEYS[1], 'HSET', 4, nOffsets) end
redis.call('SADD', KEYS[2], generation)
return #ops
`;
