# rtp.roomy: placeholder attributes that make an instance's attribute table grow once
# when that at least halves the probes of a lookup that misses.
import gc

from check import eq
from rtp.roomy import roomy


class Bag:
    pass


def bag(n):
    b = Bag()
    for i in range(n):
        setattr(b, "a%d" % i, i)
    return b


def test_a_nearly_full_table_grows():
    # 119 attributes in a 127-slot table: 9 placeholders make it grow to 167 slots
    b = bag(119)
    eq(roomy(b), 9, "placeholders added")
    eq(len(b.__dict__), 128, "attributes")
    eq(b.a0 + b.a118, 118, "the object's own attributes unchanged")
    eq((b._roomy, b._room7), (True, None), "the mark (the first placeholder) and the rest")
    eq(roomy(b), 0, "a second call adds nothing (128 of 167 slots)")


def test_again_on_the_same_object_it_copies_no_table():
    # obj.__dict__ copies the table: 167 slots of two words, 1.3 KB on 32 bits; a
    # call's media start calls roomy on objects the line made roomy at boot
    for n in (119, 74):            # grown, and left as it was
        b = bag(n)
        roomy(b)
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            eq(roomy(b), 0, "again")
            grew = gc.mem_alloc() - before
        finally:
            gc.enable()
        assert grew < 128, "%d attributes: %d bytes allocated" % (n, grew)


def test_growth_only_where_it_halves_a_miss():
    # (attributes, placeholders): 27 of 29 -> 30 of 37; 15 of 17 -> 18 of 23;
    # 41 of 47 -> 48 of 59; but 7 of 8 -> 9 of 10, 74 of 97 -> 98 of 127 and
    # 3 of 4 -> 5 of 6 would not halve the probes of a miss; a full table always grows
    for n, want in ((27, 3), (15, 3), (41, 7), (7, 0), (74, 0), (3, 0), (0, 0), (97, 1)):
        eq(roomy(bag(n)), want, "placeholders for %d attributes" % n)


def test_existing_placeholders_are_kept():
    b = bag(26)
    b._room0 = "mine"
    eq(roomy(b), 3, "27 of 29 -> 30")
    eq(b._room0, "mine", "an attribute of that name is not overwritten")
    eq(len(b.__dict__), 30, "attributes")
