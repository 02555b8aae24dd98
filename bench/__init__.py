"""`make bench`: cold start, warm overhead, memory and size, against the floor and a hand-written peer."""
