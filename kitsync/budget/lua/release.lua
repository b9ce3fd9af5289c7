-- ARGV: holder token. Returns 1 when it held a slot (0: its lease had run out meanwhile).
return redis.call('ZREM', SLOTS, ARGV[1])
