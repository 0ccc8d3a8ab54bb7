"""jem._core.wire against its plain-Python oracle (tests/oracle/wire_ref.py): records of random
messages built by the protobuf runtime itself, every kind of column, pages, and bytes that are
not a message (refused with ValueError, never read past their end)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jem._core.wire import decode_records, top_varint
from jem.v1 import common_pb2, jobs_pb2
from tests.oracle import wire_ref

PROPERTY_SETTINGS = settings(derandomize=True, max_examples=150, deadline=None)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
INT64 = st.integers(-2**63, 2**63 - 1)
INT32 = st.integers(-2**31, 2**31 - 1)

# (path, kind) over Job messages: scalars, a submessage's fields, optionals, repeated, maps, packed enums
WANTED = (((1,), "i"), ((6,), "s"), ((13,), "i"), ((9,), "h"), ((9, 1), "i"), ((9, 2), "i"), ((12,), "S"),
          ((41,), "h"), ((41,), "i"), ((2, 1), "s"), ((2, 11), "h"), ((2, 11), "i"), ((2, 21), "i"),
          ((2, 49), "m"), ((2, 16), "M"), ((2, 54), "I"), ((2, 14), "S"), ((16, 2), "i"), ((22, 3), "i"))
PATHS = tuple(path for path, _ in WANTED)
KINDS = "".join(kind for _, kind in WANTED).encode()


@st.composite
def jobs(draw):
    job = common_pb2.Job(job_id=draw(INT64), user=draw(TEXT), exit_code=draw(INT32),
                         nodes=draw(st.lists(TEXT, max_size=3)))
    if draw(st.booleans()):
        job.submit_time.seconds, job.submit_time.nanos = draw(INT64.filter(lambda s: abs(s) < 2**40)), draw(
            st.integers(0, 999_999_999))
    if draw(st.booleans()):
        job.array_task_id = draw(INT32)
    job.spec.name = draw(TEXT)
    if draw(st.booleans()):
        job.spec.time_limit_s = draw(INT64)
    job.spec.nice = draw(INT32)
    for key, amount in draw(st.dictionaries(TEXT, INT64, max_size=3)).items():
        job.spec.gres_per_node[key] = amount
    for key, text in draw(st.dictionaries(TEXT, TEXT, max_size=3)).items():
        job.spec.environment[key] = text
    job.spec.retry_on.extend(draw(st.lists(st.integers(0, 12), max_size=4)))
    job.spec.script_args.extend(draw(st.lists(TEXT, max_size=3)))
    job.alloc_per_node.mem_mib = draw(INT64)
    job.usage.max_rss_kib = draw(INT64)
    return job


def _sorted_maps(columns: list) -> list:
    """Map columns with their entries in one order (the runtime may write them in any)."""
    return [[tuple(sorted(v)) if kind in "mM" else v for v in column] for column, kind in zip(columns, KINDS.decode())]


@PROPERTY_SETTINGS
@given(st.lists(st.lists(jobs(), max_size=4), min_size=1, max_size=3), st.integers(0, 2**40))
def test_decode_agrees_with_oracle_and_with_the_runtime(pages, after):
    chunks = [jobs_pb2.ListJobsResponse(jobs=page, next_after_job_id=after).SerializeToString() for page in pages]
    got = decode_records(chunks, 1, PATHS, KINDS)
    assert _sorted_maps(got) == _sorted_maps(wire_ref.decode_records(chunks, 1, PATHS, KINDS))
    listed = [job for page in pages for job in page]
    assert got[0] == [job.job_id for job in listed]
    assert got[9] == [job.spec.name for job in listed]
    assert got[6] == [tuple(job.nodes) for job in listed]
    assert [dict(v) for v in got[13]] == [dict(job.spec.gres_per_node) for job in listed]
    assert got[15] == [tuple(job.spec.retry_on) for job in listed]
    assert [v if p else None for p, v in zip(got[7], got[8])] == [
        job.array_task_id if job.HasField("array_task_id") else None for job in listed]
    assert all(top_varint(chunk, 2) == after for chunk in chunks)


@PROPERTY_SETTINGS
@given(st.lists(jobs(), min_size=1, max_size=3), st.data())
def test_bytes_cut_short_or_changed_are_refused_or_read_as_the_oracle_reads_them(listed, data):
    chunk = jobs_pb2.ListJobsResponse(jobs=listed).SerializeToString()
    cut = data.draw(st.integers(0, len(chunk) - 1))
    flip = data.draw(st.integers(0, len(chunk) - 1))
    for broken in (chunk[:cut], chunk[:flip] + bytes([chunk[flip] ^ data.draw(st.integers(1, 255))]) + chunk[flip + 1:]):
        try:
            expected = wire_ref.decode_records([broken], 1, PATHS, KINDS)
        except (ValueError, UnicodeDecodeError):
            with pytest.raises((ValueError, UnicodeDecodeError)):
                decode_records([broken], 1, PATHS, KINDS)
        else:
            assert _sorted_maps(decode_records([broken], 1, PATHS, KINDS)) == _sorted_maps(expected)


def test_merged_submessages_and_repeated_scalars_read_as_protobuf_reads_them():
    first = common_pb2.Job(job_id=1, user="a")
    first.spec.name, first.spec.nice = "one", 3
    second = common_pb2.Job(job_id=2)
    second.spec.partition = "p"
    record = first.SerializeToString() + second.SerializeToString()   # one record: the two merged
    chunk = b"\x0a" + len(record).to_bytes(1, "little") + record
    merged = common_pb2.Job.FromString(record)
    assert decode_records([chunk], 1, ((1,), (6,), (2, 1), (2, 3), (2, 21)), b"isssi") == [
        [merged.job_id], [merged.user], [merged.spec.name], [merged.spec.partition], [merged.spec.nice]]


def test_asking_wrongly_is_refused():
    chunk = jobs_pb2.ListJobsResponse(jobs=[common_pb2.Job(job_id=1)]).SerializeToString()
    for paths, kinds in ((((1,),), b"x"), (((1,), (1,)), b"ii"), (((),), b"i"), (((128,),), b"i"),
                         (((1,),), b"ii")):
        with pytest.raises(ValueError):
            decode_records([chunk], 1, paths, kinds)
    assert decode_records([chunk], 1, ((1,), (1,)), b"ih") == [[1], [1]]   # a value and its presence
    assert decode_records([b"", chunk, b""], 1, ((1,),), b"i") == [[1]]
    assert decode_records([], 1, ((1,),), b"i") == [[]]
    with pytest.raises(ValueError):
        decode_records([b"\x0b"], 1, ((1,),), b"i")   # a group
    assert top_varint(b"", 2) == 0
