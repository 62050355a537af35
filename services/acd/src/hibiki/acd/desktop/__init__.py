"""The agent desktop (CC-02..CC-04): the page at ``/desktop`` with its browser softphone (JsSIP
over SIP/WebSocket straight to FreeSWITCH), the agent's live feed (SSE of the ACD's NATS events)
and the softphone's settings (FreeSWITCH's WebSocket, the device's SIP URI)."""
