"""mod_sofia channel variables, derived from esl/esl_outbound_session.log and
esl/esl_outbound_connect_reply.raw (GENERATED from the capture; values are templates: ``⟨name⟩``
is replaced by the channel's own value).  Each list is the ordered set of variables mod_sofia
set at one point of the captured call; the emulator replays them at the same point."""
from __future__ import annotations

__all__ = ["INITIAL", "DIALPLAN_SPECIFIC", "MEDIA", "ANSWER", "ANSWERED", "PEER_ACK", "RECV_BYE_BEFORE",
           "RECV_BYE_AFTER", "RTP_STATS", "CAPTURE_SEED_INITIAL"]

Template = list[tuple[str, str]]

#: variables present when the dialplan ran ``socket`` (connect reply), dialplan-specific ones included
CAPTURE_SEED_INITIAL: Template = [
    ('direction', 'inbound'),
    ('uuid', '⟨uuid⟩'),
    ('session_id', '⟨session_id⟩'),
    ('sip_from_user', '⟨caller_id_number⟩'),
    ('sip_from_uri', '⟨caller_id_number⟩@⟨domain⟩'),
    ('sip_from_host', '⟨domain⟩'),
    ('video_media_flow', 'disabled'),
    ('audio_media_flow', 'disabled'),
    ('text_media_flow', 'disabled'),
    ('channel_name', '⟨channel_name⟩'),
    ('sip_call_id', '1-8644@⟨domain⟩'),
    ('sip_local_network_addr', '127.0.0.1'),
    ('sip_network_ip', '127.0.0.1'),
    ('sip_network_port', '5074'),
    ('sip_invite_stamp', '⟨created_us⟩'),
    ('sip_received_ip', '127.0.0.1'),
    ('sip_received_port', '5074'),
    ('sip_via_protocol', 'udp'),
    ('sip_authorized', 'true'),
    ('Event-Name', 'REQUEST_PARAMS'),
    ('Core-UUID', '⟨core_uuid⟩'),
    ('FreeSWITCH-Hostname', '⟨hostname⟩'),
    ('FreeSWITCH-Switchname', '⟨switchname⟩'),
    ('FreeSWITCH-IPv4', '⟨ipv4⟩'),
    ('FreeSWITCH-IPv6', '⟨ipv6⟩'),
    ('Event-Date-Local', '⟨created_local⟩'),
    ('Event-Date-GMT', '⟨created_gmt⟩'),
    ('Event-Date-Timestamp', '⟨created_us⟩'),
    ('Event-Calling-File', 'sofia.c'),
    ('Event-Calling-Function', 'sofia_handle_sip_i_invite'),
    ('Event-Calling-Line-Number', '10723'),
    ('Event-Sequence', '⟨invite_seq⟩'),
    ('sip_number_alias', '⟨caller_id_number⟩'),
    ('sip_auth_username', '⟨caller_id_number⟩'),
    ('sip_auth_realm', '⟨domain⟩'),
    ('number_alias', '⟨caller_id_number⟩'),
    ('requested_user_name', '⟨caller_id_number⟩'),
    ('requested_domain_name', '⟨domain⟩'),
    ('record_stereo', 'true'),
    ('default_gateway', 'example.com'),
    ('default_areacode', '918'),
    ('transfer_fallback_extension', 'operator'),
    ('toll_allow', 'domestic,international,local'),
    ('accountcode', '⟨caller_id_number⟩'),
    ('user_context', 'default'),
    ('effective_caller_id_name', 'Extension ⟨caller_id_number⟩'),
    ('effective_caller_id_number', '⟨caller_id_number⟩'),
    ('outbound_caller_id_name', 'FreeSWITCH'),
    ('outbound_caller_id_number', '0000000000'),
    ('callgroup', 'techsupport'),
    ('user_name', '⟨caller_id_number⟩'),
    ('domain_name', '⟨domain⟩'),
    ('sip_from_user_stripped', '⟨caller_id_number⟩'),
    ('sip_from_tag', '8644SIPpTag001'),
    ('sofia_profile_name', 'internal'),
    ('sofia_profile_url', 'sip:mod_sofia@⟨domain⟩:5060'),
    ('recovery_profile_name', 'internal'),
    ('sip_full_via', 'SIP/2.0/UDP 127.0.0.1:5074;branch=z9hG4bK-8644-1-4'),
    ('sip_from_display', '⟨caller_id_name⟩'),
    ('sip_full_from', '"⟨caller_id_name⟩" <sip:⟨caller_id_number⟩@⟨domain⟩>;tag=8644SIPpTag001'),
    ('sip_full_to', '<sip:⟨destination⟩@⟨domain⟩:5060>'),
    ('sip_req_user', '⟨destination⟩'),
    ('sip_req_port', '5060'),
    ('sip_req_uri', '⟨destination⟩@⟨domain⟩:5060'),
    ('sip_req_host', '⟨domain⟩'),
    ('sip_to_user', '⟨destination⟩'),
    ('sip_to_port', '5060'),
    ('sip_to_uri', '⟨destination⟩@⟨domain⟩:5060'),
    ('sip_to_host', '⟨domain⟩'),
    ('sip_contact_user', '⟨caller_id_number⟩'),
    ('sip_contact_port', '5074'),
    ('sip_contact_uri', '⟨caller_id_number⟩@⟨domain⟩:5074'),
    ('sip_contact_host', '⟨domain⟩'),
    ('rtp_use_codec_string', 'OPUS,G722,PCMU,PCMA,H264,VP8'),
    ('sip_user_agent', 'sipp-uac-auth'),
    ('sip_via_host', '127.0.0.1'),
    ('sip_via_port', '5074'),
    ('max_forwards', '70'),
    ('presence_id', '⟨caller_id_number⟩@⟨domain⟩'),
    ('switch_r_sdp', 'v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6200 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n'),
    ('ep_codec_string', 'CORE_PCM_MODULE.PCMA@8000h@20i@64000b'),
    ('endpoint_disposition', 'DELAYED NEGOTIATION'),
    ('DP_MATCH', 'ARRAY::DELAYED NEGOTIATION|:DELAYED NEGOTIATION'),
    ('call_uuid', '⟨uuid⟩'),
    ('RFC2822_DATE', '⟨created_rfc2822⟩'),
    ('export_vars', 'RFC2822_DATE'),
]

#: set by the captured dialplan/user directory, not by mod_sofia: dropped for generic calls
DIALPLAN_SPECIFIC = ("DP_MATCH", "RFC2822_DATE", "export_vars")

INITIAL: Template = [kv for kv in CAPTURE_SEED_INITIAL if kv[0] not in DIALPLAN_SPECIFIC]

#: media negotiation (pre-answer), before CHANNEL_PROGRESS_MEDIA
MEDIA: Template = [
    ('rtp_use_codec_string', 'OPUS,G722,PCMU,PCMA,H264,VP8'),
    ('remote_video_media_flow', 'inactive'),
    ('remote_text_media_flow', 'inactive'),
    ('remote_audio_media_flow', 'sendrecv'),
    ('audio_media_flow', 'sendrecv'),
    ('rtp_audio_recv_pt', '8'),
    ('rtp_use_codec_name', 'PCMA'),
    ('rtp_use_codec_rate', '8000'),
    ('rtp_use_codec_ptime', '20'),
    ('rtp_use_codec_channels', '1'),
    ('rtp_last_audio_codec_string', 'PCMA@8000h@20i@1c'),
    ('read_codec', 'PCMA'),
    ('original_read_codec', 'PCMA'),
    ('read_rate', '8000'),
    ('original_read_rate', '8000'),
    ('write_codec', 'PCMA'),
    ('write_rate', '8000'),
    ('dtmf_type', 'rfc2833'),
    ('local_media_ip', '127.0.0.1'),
    ('local_media_port', '27052'),
    ('advertised_media_ip', '127.0.0.1'),
    ('rtp_use_timer_name', 'soft'),
    ('rtp_use_pt', '8'),
    ('rtp_use_ssrc', '923579963'),
    ('rtp_2833_send_payload', '101'),
    ('rtp_2833_recv_payload', '101'),
    ('remote_media_ip', '127.0.0.1'),
    ('remote_media_port', '6200'),
    ('endpoint_disposition', 'EARLY MEDIA'),
]

#: answer, before CHANNEL_ANSWER
ANSWER: Template = [
    ('rtp_local_sdp_str', 'v=0\r\no=FreeSWITCH 1795392312 1795392313 IN IP4 127.0.0.1\r\ns=FreeSWITCH\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 27052 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n'),
]

#: after CHANNEL_ANSWER
ANSWERED: Template = [('endpoint_disposition', 'ANSWER')]

#: the caller's ACK / first RTP after the 200 OK (seen during the first media app)
PEER_ACK: Template = [
    ('sip_to_tag', 'B3USHUyNDvcrK'),
    ('sip_from_tag', '8644SIPpTag001'),
    ('sip_cseq', '2'),
    ('sip_call_id', '1-8644@⟨domain⟩'),
    ('sip_full_via', 'SIP/2.0/UDP 127.0.0.1:5074;branch=z9hG4bK-8644-1-9'),
    ('sip_from_display', '⟨caller_id_name⟩'),
    ('sip_full_from', '"⟨caller_id_name⟩" <sip:⟨caller_id_number⟩@⟨domain⟩>;tag=8644SIPpTag001'),
    ('sip_full_to', '<sip:⟨destination⟩@⟨domain⟩:5060>;tag=B3USHUyNDvcrK'),
    ('rtp_h_X-Broken-PTIME', 'Adv=20;Sent=30'),
    ('rtp_use_codec_name', 'PCMA'),
    ('rtp_use_codec_rate', '8000'),
    ('rtp_use_codec_ptime', '30'),
    ('rtp_use_codec_channels', '1'),
    ('rtp_last_audio_codec_string', 'PCMA@8000h@30i@1c'),
    ('write_codec', 'PCMA'),
    ('write_rate', '8000'),
]

#: caller sent BYE: before CHANNEL_HANGUP
RECV_BYE_BEFORE: Template = [
    ('sip_term_status', '200'),
    ('proto_specific_hangup_cause', 'sip:200'),
    ('sip_term_cause', '16'),
]

#: caller sent BYE: after CHANNEL_HANGUP
RECV_BYE_AFTER: Template = [
    ('sip_hangup_disposition', 'recv_bye'),
]

#: RTP statistics set at the end of the call (captured values)
RTP_STATS: Template = [
    ('rtp_audio_in_raw_bytes', '33264'),
    ('rtp_audio_in_media_bytes', '33264'),
    ('rtp_audio_in_packet_count', '132'),
    ('rtp_audio_in_media_packet_count', '132'),
    ('rtp_audio_in_skip_packet_count', '9'),
    ('rtp_audio_in_jitter_packet_count', '0'),
    ('rtp_audio_in_dtmf_packet_count', '0'),
    ('rtp_audio_in_cng_packet_count', '0'),
    ('rtp_audio_in_flush_packet_count', '0'),
    ('rtp_audio_in_largest_jb_size', '0'),
    ('rtp_audio_in_jitter_min_variance', '105.97'),
    ('rtp_audio_in_jitter_max_variance', '206.57'),
    ('rtp_audio_in_jitter_loss_rate', '0.00'),
    ('rtp_audio_in_jitter_burst_rate', '0.00'),
    ('rtp_audio_in_mean_interval', '30.00'),
    ('rtp_audio_in_flaw_total', '0'),
    ('rtp_audio_in_quality_percentage', '100.00'),
    ('rtp_audio_in_mos', '4.50'),
    ('rtp_audio_out_raw_bytes', '8364'),
    ('rtp_audio_out_media_bytes', '8364'),
    ('rtp_audio_out_packet_count', '37'),
    ('rtp_audio_out_media_packet_count', '37'),
    ('rtp_audio_out_skip_packet_count', '0'),
    ('rtp_audio_out_dtmf_packet_count', '0'),
    ('rtp_audio_out_cng_packet_count', '0'),
    ('rtp_audio_rtcp_packet_count', '0'),
    ('rtp_audio_rtcp_octet_count', '0'),
]
