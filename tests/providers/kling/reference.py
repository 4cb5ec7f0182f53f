"""Kling's documented reply bodies (``shared/reference/providers/kling.md``, "Responses"),
verbatim: the adapter tests parse them; the simulator tests check its replies against their
shape."""

CREATE_EXAMPLE = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": "9b1e7c1a-3f0d-4a57-bb1e-2a6c9f3e8d40",
    "data": {
        "task_id": "867283741759111202",
        "task_status": "submitted",
        "task_info": {"external_task_id": "order-42"},
        "created_at": 1774805076166,
        "updated_at": 1774805076166,
    },
}
SUCCEED_EXAMPLE = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": "…",
    "data": {
        "task_id": "867283741759111202",
        "task_status": "succeed",
        "task_status_msg": "",
        "task_info": {"external_task_id": "order-42"},
        "created_at": 1774805076166,
        "updated_at": 1774805190412,
        "final_unit_deduction": "2",
        "task_result": {
            "videos": [
                {
                    "id": "…",
                    "url": "https://…klingai.com/…mp4",
                    "watermark_url": "…",
                    "duration": "5",
                }
            ]
        },
    },
}
