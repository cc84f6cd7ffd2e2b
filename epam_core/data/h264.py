"""Just enough of H.264's headers (ITU-T H.264 §7.3) to plan a sparse decode: which packets can be left out.

A sampled clip needs 16 of ~100 frames, but a decoder has to decode every reference picture before a wanted
one. Pictures with ``nal_ref_idc == 0`` (most B-frames) are never referenced, and an IDR picture starts
afresh, so a wanted frame needs only: the reference pictures decoded before it since the last IDR, and
itself. Which packet is which displayed frame follows from the picture order count (POC, §8.2.1), read from
the slice header; containers such as AVI store no presentation time, so it cannot come from them.

``picture_headers`` reads one ``PictureHeader`` per packet, or returns None for a stream it does not handle
(POC type 1, interlaced coding, several pictures per packet, no IDR first): the caller then decodes
everything. Memory-management operation 5 (a POC reset inside a period) is not read; the caller checks the
order the decoder outputs against the plan and falls back when they disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

NAL_SLICE, NAL_IDR, NAL_SPS, NAL_PPS = 1, 5, 7, 8
# profiles whose SPS carries chroma format, bit depths and scaling matrices (§7.3.2.1.1)
HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
SLICE_HEADER_BYTES = 64  # the fields read lie well within the first bytes of a slice NAL


class UnsupportedStream(Exception):
    """A stream feature the planner does not model; the caller decodes every frame instead."""


@dataclass(frozen=True)
class PictureHeader:
    """One coded picture (one packet), in decode order."""

    is_reference: bool  # nal_ref_idc != 0: later pictures may predict from it
    is_idr: bool  # starts a new period: nothing before it is referenced after it
    poc: int  # picture order count: display order within its IDR period


@dataclass(frozen=True)
class _SPS:
    log2_max_frame_num: int
    poc_type: int
    log2_max_poc_lsb: int
    separate_colour_plane: bool


class _Bits:
    """MSB-first bit reader over an RBSP (emulation-prevention bytes removed)."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = len(data) * 8

    def u(self, n: int) -> int:
        if n > self.left:
            raise UnsupportedStream("header ends early")
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise UnsupportedStream("bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


def _rbsp(nal: bytes) -> bytes:
    """The payload after the 1-byte NAL header, with every 00 00 03 turned back into 00 00."""
    return nal[1:].replace(b"\x00\x00\x03", b"\x00\x00")


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt:
            nxt = (last + bits.se() + 256) % 256
        last = nxt or last


def _parse_sps(nal: bytes) -> tuple[int, _SPS]:
    bits = _Bits(_rbsp(nal))
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level_idc
    sps_id = bits.ue()
    separate_colour_plane = False
    if profile in HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            separate_colour_plane = bool(bits.u(1))
        bits.ue(), bits.ue(), bits.u(1)  # bit depths, qpprime_y_zero_transform_bypass
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if i < 6 else 64)
    log2_max_frame_num = bits.ue() + 4
    poc_type = bits.ue()
    log2_max_poc_lsb = 0
    if poc_type == 0:
        log2_max_poc_lsb = bits.ue() + 4
    elif poc_type == 1:
        raise UnsupportedStream("picture order count type 1")
    bits.ue(), bits.u(1), bits.ue(), bits.ue()  # max_num_ref_frames, gaps, width, height in MBs
    if not bits.u(1):
        raise UnsupportedStream("interlaced (field) coding")
    return sps_id, _SPS(log2_max_frame_num, poc_type, log2_max_poc_lsb, separate_colour_plane)


def split_nals(data: bytes, length_size: int | None) -> list[bytes]:
    """NAL units of a packet: length-prefixed (MP4/MKV 'avcC', ``length_size`` bytes) or Annex B start codes."""
    if length_size:
        nals, pos = [], 0
        while pos + length_size <= len(data):
            size = int.from_bytes(data[pos : pos + length_size], "big")
            pos += length_size
            nals.append(data[pos : pos + size])
            pos += size
        return [n for n in nals if n]
    return [n.lstrip(b"\x00") for n in data.split(b"\x00\x00\x01") if n.strip(b"\x00")]


def avcc_parameter_sets(extradata: bytes) -> tuple[int, list[bytes]]:
    """(NAL length size, SPS and PPS NAL units) of an 'avcC' record (ISO/IEC 14496-15 §5.3.3.1)."""
    length_size = (extradata[4] & 3) + 1
    nals, pos = [], 6
    for count_mask in (0x1F, 0xFF):  # SPS count in the low 5 bits, then the PPS count
        count = extradata[pos - 1] & count_mask
        for _ in range(count):
            size = int.from_bytes(extradata[pos : pos + 2], "big")
            nals.append(extradata[pos + 2 : pos + 2 + size])
            pos += 2 + size
        pos += 1
    return length_size, nals


class _HeaderReader:
    """Parameter sets seen so far, and the POC state (§8.2.1.1) carried from one reference picture to the next."""

    def __init__(self) -> None:
        self.sps: dict[int, _SPS] = {}
        self.pps_sps: dict[int, int] = {}  # pps id -> sps id
        self.prev_msb = self.prev_lsb = 0
        self.prev_frame_num = self.frame_num_offset = 0

    def parameter_set(self, nal: bytes) -> None:
        kind = nal[0] & 0x1F
        if kind == NAL_SPS:
            sps_id, sps = _parse_sps(nal)
            self.sps[sps_id] = sps
        elif kind == NAL_PPS:
            bits = _Bits(_rbsp(nal)[:8])
            pps_id = bits.ue()
            self.pps_sps[pps_id] = bits.ue()

    def picture(self, nal: bytes) -> PictureHeader:
        kind, ref_idc = nal[0] & 0x1F, (nal[0] >> 5) & 3
        bits = _Bits(_rbsp(nal[: SLICE_HEADER_BYTES + 1]))
        bits.ue(), bits.ue()  # first_mb_in_slice, slice_type
        pps_id = bits.ue()
        if pps_id not in self.pps_sps or self.pps_sps[pps_id] not in self.sps:
            raise UnsupportedStream("slice before its parameter sets")
        sps = self.sps[self.pps_sps[pps_id]]
        if sps.separate_colour_plane:
            bits.u(2)
        frame_num = bits.u(sps.log2_max_frame_num)
        is_idr = kind == NAL_IDR
        if is_idr:
            bits.ue()  # idr_pic_id
        if sps.poc_type == 0:
            lsb, max_lsb = bits.u(sps.log2_max_poc_lsb), 1 << sps.log2_max_poc_lsb
            prev_msb, prev_lsb = (0, 0) if is_idr else (self.prev_msb, self.prev_lsb)
            if lsb < prev_lsb and prev_lsb - lsb >= max_lsb // 2:
                msb = prev_msb + max_lsb
            elif lsb > prev_lsb and lsb - prev_lsb > max_lsb // 2:
                msb = prev_msb - max_lsb
            else:
                msb = prev_msb
            poc = msb + lsb
            if ref_idc:
                self.prev_msb, self.prev_lsb = msb, lsb
        else:  # type 2: display order is decode order (§8.2.1.3)
            if is_idr:
                self.frame_num_offset = 0
            elif frame_num < self.prev_frame_num:
                self.frame_num_offset += 1 << sps.log2_max_frame_num
            poc = 2 * (self.frame_num_offset + frame_num) - (0 if ref_idc else 1)
            self.prev_frame_num = frame_num
        return PictureHeader(is_reference=bool(ref_idc), is_idr=is_idr, poc=poc)


def picture_headers(packets: Iterable[bytes], extradata: bytes | None) -> list[PictureHeader | None] | None:
    """One entry per packet in decode order: its picture, or None for a packet without one (parameter sets, SEI).

    None when the stream is outside what this module models (see the module docstring).
    """
    reader = _HeaderReader()
    length_size = None
    try:
        if extradata and extradata[0] == 1:  # 'avcC': length-prefixed NALs, parameter sets out of band
            length_size, nals = avcc_parameter_sets(extradata)
        else:
            nals = split_nals(extradata or b"", None)
        for nal in nals:
            reader.parameter_set(nal)
        headers: list[PictureHeader | None] = []
        for data in packets:
            picture = None
            for nal in split_nals(data, length_size):
                kind = nal[0] & 0x1F
                if kind in (NAL_SPS, NAL_PPS):
                    reader.parameter_set(nal)
                elif kind in (NAL_SLICE, NAL_IDR) and nal[1] & 0x80:  # first_mb_in_slice == 0: a new picture
                    if picture is not None:
                        raise UnsupportedStream("several pictures in one packet")
                    picture = reader.picture(nal)
            headers.append(picture)
    except (UnsupportedStream, IndexError):
        return None
    first = next((h for h in headers if h is not None), None)
    if first is None or not first.is_idr:
        return None
    return headers
