// The Lua scripts: each does in one round trip, atomically, what would otherwise race between
// processes (take parts of live runs, heartbeat, reclaim or dead-letter, trim, bounded put, rate).

import { script } from './connection.ts';

/** `{ field = value }` of a stream entry's flat field list. */
const FIELDS = `
local function fields_of(flat)
  local f = {}
  for j = 1, #flat, 2 do f[flat[j]] = flat[j + 1] end
  return f
end
`;

/**
 * Caller: adds the parts of one run to its processor's stream KEYS[1], one entry each, in one call.
 * ARGV: the run (field r of every entry), the index of the first part, and the wire parts (JSON,
 * which has no raw newline) joined by newlines, in index order. What the parts of a run share (its
 * caller, claimIdleMs and maxDeliveries) is the value of the run key, "<caller> <ms> <max>".
 * Returns the number of entries added.
 */
export const SUBMIT = script(`
local stream, r = KEYS[1], ARGV[1]
local i, parts, from, n = tonumber(ARGV[2]), ARGV[3], 1, 0
while true do
  local to = string.find(parts, '\\n', from, true)
  redis.call('XADD', stream, '*', 'r', r, 'i', string.format('%d', i + n), 'p',
    string.sub(parts, from, to and to - 1 or -1))
  n = n + 1
  if not to then return n end
  from = to + 1
end
`);

/**
 * Worker: reads up to ARGV[3] new parts (non-blocking) from the streams in KEYS for consumer
 * ARGV[2] of group ARGV[1], and looks up the run key (ARGV[4] .. run) of each: a part whose run key
 * is gone (the run stopped or its caller died) must not start; the worker acknowledges it.
 * ARGV[5...] are the runs of parts the worker read with a blocking read, to check the same way.
 * Returns { { stream index, entries (as XREADGROUP returns them), ... }, { run, run key value
 * (live) or false (gone), ... } } with every run it looked up. Entries are written r, i, p: the
 * run is read by position (any other layout by name).
 */
export const TAKE = script(`
local group, consumer, count, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local info = {}
local runs = {}
local function look(run)
  if info[run] == nil then
    info[run] = redis.call('GET', prefix .. run)
    runs[#runs + 1] = run
    runs[#runs + 1] = info[run]
  end
end
for j = 5, #ARGV do look(ARGV[j]) end
local out = {}
for k = 1, #KEYS do
  if count <= 0 then break end
  local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', KEYS[k], '>')
  if reply then
    local entries = reply[1][2]
    for _, entry in ipairs(entries) do
      local flat = entry[2]
      if flat[1] == 'r' then
        look(flat[2])
      else
        for j = 1, #flat, 2 do if flat[j] == 'r' then look(flat[j + 1]) end end
      end
    end
    out[#out + 1] = k
    out[#out + 1] = entries
    count = count - #entries
  end
end
return { out, runs }
`);

/** Worker: for each KEYS[k] and (ARGV[2k+2] id, ARGV[2k+3] run), 0 = heartbeat sent, 1 = no longer ours, 2 = run gone. */
export const HEARTBEAT = script(`
local group, consumer, prefix = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for k = 1, #KEYS do
  local id, run = ARGV[2 + 2 * k], ARGV[3 + 2 * k]
  local status = 0
  local p = redis.call('XPENDING', KEYS[k], group, id, id, 1)
  if #p == 0 or p[1][2] ~= consumer then
    status = 1
  elseif redis.call('EXISTS', prefix .. run) == 0 then
    status = 2
  else
    redis.call('XCLAIM', KEYS[k], group, consumer, 0, id, 'JUSTID')
  end
  out[k] = status
end
return out
`);

/**
 * Worker: looks for parts of other consumers idle longer than their run's claimIdleMs in the
 * streams KEYS[2k-1] (dead-letter streams KEYS[2k]); a run's key (ARGV[3] .. run) holds
 * "<caller> <claimIdleMs> <maxDeliveries>". A part of a gone run is acknowledged; a part delivered
 * maxDeliveries times goes to the dead-letter stream and its caller gets an E_MAX_DELIVERIES error
 * on its output stream (ARGV[5] .. caller); any other is claimed for ARGV[2], at most ARGV[4] of
 * them. Returns { {stream index, id, fields, attempt, run key value}... }.
 */
export const CLAIM = script(`${FIELDS}
local group, consumer, prefix, count, outPrefix = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local claimed = {}
for k = 1, #KEYS, 2 do
  local stream, dead = KEYS[k], KEYS[k + 1]
  local pending = redis.call('XPENDING', stream, group, 'IDLE', 20, '-', '+', 200)
  for _, p in ipairs(pending) do
    local id, owner, idle, deliveries = p[1], p[2], tonumber(p[3]), tonumber(p[4])
    if owner ~= consumer then
      local range = redis.call('XRANGE', stream, id, id)
      local flat = #range > 0 and range[1][2] or nil
      local f = flat and fields_of(flat) or {}
      local info = flat and redis.call('GET', prefix .. (f['r'] or '')) or false
      if not info then
        -- Trimmed, or its run is gone: nobody needs it any more.
        redis.call('XACK', stream, group, id)
      else
        local caller, limit, max = string.match(info, '^(%S+) (%d+) (%d+)$')
        limit, max = tonumber(limit) or 30000, tonumber(max) or 3
        if idle >= limit then
          if deliveries >= max then
            redis.call('XADD', dead, 'MAXLEN', '~', 10000, '*', 'entry', id, 'deliveries', deliveries,
              'caller', caller or '', 'maxDeliveries', max, unpack(flat))
            redis.call('XACK', stream, group, id)
            -- A message as workers send them: { 'x', run, index, attempt, error }.
            local message = {
              'x', f['r'], tonumber(f['i']), deliveries + 1,
              {
                name = 'DeliveryLimitError',
                code = 'E_MAX_DELIVERIES',
                message = 'part ' .. f['i'] .. ' was delivered ' .. deliveries .. ' times (maxDeliveries ' .. max ..
                  ') and no worker finished it; it is in the dead-letter stream ' .. dead,
              },
            }
            redis.call('XADD', outPrefix .. (caller or '') .. ':out', 'NOMKSTREAM', '*', 'm', cjson.encode({ message }))
          elseif count > 0 then
            local c = redis.call('XCLAIM', stream, group, consumer, limit, id)
            if #c > 0 then
              table.insert(claimed, { (k + 1) / 2, id, flat, deliveries + 1, info })
              count = count - 1
            end
          end
        end
      end
    end
  end
end
return claimed
`);

/**
 * Trims stream KEYS[1] below the oldest entry some group still needs: its oldest pending (delivered,
 * unacknowledged) entry, else the entry after its last delivered one. Never MAXLEN: that would drop
 * pending entries. A stream without groups is left alone. Returns the number of entries removed.
 */
export const TRIM = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local best_ms, best_seq = nil, nil
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
for _, g in ipairs(groups) do
  local info = {}
  for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
  local summary = redis.call('XPENDING', KEYS[1], info['name'])
  local ms, seq
  if tonumber(summary[1]) > 0 then
    ms, seq = parse(summary[2])
  else
    ms, seq = parse(info['last-delivered-id'])
    seq = seq + 1
  end
  if best_ms == nil or ms < best_ms or (ms == best_ms and seq < best_seq) then
    best_ms, best_seq = ms, seq
  end
end
if best_ms == nil then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', best_ms, best_seq))
`);

/**
 * redisQueue put: KEYS[1] stream, KEYS[2] state key; ARGV group, highWaterMark, then field/value
 * pairs. Adds the entry when the group's backlog (undelivered + unacknowledged) is below the mark.
 * Returns { 1, backlog after } when added, { 0, backlog } when full, { -1, 0 } when closed.
 */
export const QUEUE_PUT = script(`
if redis.call('EXISTS', KEYS[2]) == 1 then return { -1, 0 } end
local group, hwm = ARGV[1], tonumber(ARGV[2])
local backlog = 0
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if ok then
  for _, g in ipairs(groups) do
    local info = {}
    for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
    if info['name'] == group then
      local lag = info['lag']
      if type(lag) ~= 'number' then
        lag = #redis.call('XRANGE', KEYS[1], '(' .. info['last-delivered-id'], '+', 'COUNT', hwm)
      end
      backlog = lag + tonumber(info['pending'])
    end
  end
end
if backlog >= hwm then return { 0, backlog } end
local entry = {}
for j = 3, #ARGV do entry[#entry + 1] = ARGV[j] end
redis.call('XADD', KEYS[1], '*', unpack(entry))
return { 1, backlog + 1 }
`);

/**
 * Shared rate limit, a sliding-window log on KEYS[1] (a sorted set of start times, Redis clock):
 * grants a start (member ARGV[3]) when fewer than ARGV[1] starts happened in the last ARGV[2] ms.
 * Returns { 1, now } when granted, { 0, ms until the oldest start leaves the window } otherwise.
 */
export const RATE = script(`
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return { 1, now }
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return { 0, math.max(1, tonumber(oldest[2]) + window - now) }
`);
