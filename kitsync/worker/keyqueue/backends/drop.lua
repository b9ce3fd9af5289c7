-- ARGV: see take_dead. Returns the dropped keys.
return take_dead()
