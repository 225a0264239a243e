"""API Gateway texts of UploadApi: VTL mapping templates and the access-log format.

Plain strings and functions (no Pulumi), so the local engine's VTL tests can render exactly
what the stack deploys. The metadata templates turn DynamoDB's wire format into the item
contract (plain fields, variants with a stage-relative ``url``).
"""

import json
from collections.abc import Sequence

SOURCE_KEY_INDEX = "by_source_key"
ERROR_TEMPLATE = '{"message": "%s"}'
"""An error answer of an integration response: ``ERROR_TEMPLATE % "what went wrong"``."""
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "apiKeyId": "$context.identity.apiKeyId",
        "caller": "$context.identity.caller",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "path": "$context.path",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationStatus": "$context.integration.status",
        "integrationLatency": "$context.integration.latency",
        "errorType": "$context.error.responseType",
        "errorMessage": "$context.error.message",
    },
    separators=(",", ":"),
)

# VTL: escapeJavaScript turns ' into \' (not valid JSON); undo that one escape.
UNQUOTE = """.replaceAll("\\\\'", "'")"""


def _item_template(var: str) -> str:
    """VTL printing DynamoDB item ``$<var>`` as clean JSON (contract fields, no type wrappers).

    Variants get a stage-relative ``url`` served by ``GET /images/{image_id}/variants/{name}``.
    The item's ``source_bucket`` and each variant's ``bucket`` stay in the table but are not
    served: a client needs no bucket name, and answers do not disclose where objects are stored;
    the ``url`` is how a client gets the bytes.
    """
    s = f"${var}"
    return (
        f"#set($vs = {s}.variants.M)\n"
        f'{{"image_id": "$util.escapeJavaScript({s}.image_id.S){UNQUOTE}",\n'
        f' "source_key": "$util.escapeJavaScript({s}.source_key.S){UNQUOTE}",\n'
        f' "source_version_id": #if({s}.source_version_id.S)'
        f'"$util.escapeJavaScript({s}.source_version_id.S){UNQUOTE}"#{{else}}null#end,\n'
        f' "status": "{s}.status.S",\n'
        f' "format": #if({s}.format.S)"{s}.format.S"#{{else}}null#end,\n'
        f' "width": #if({s}.width.N){s}.width.N#{{else}}null#end,\n'
        f' "height": #if({s}.height.N){s}.height.N#{{else}}null#end,\n'
        f' "bytes": #if({s}.bytes.N){s}.bytes.N#{{else}}null#end,\n'
        f' "created_at": #if({s}.created_at.S)"{s}.created_at.S"#{{else}}null#end,\n'
        f' "processed_at": #if({s}.processed_at.S)"{s}.processed_at.S"#{{else}}null#end,\n'
        f' "duration_ms": #if({s}.duration_ms.N){s}.duration_ms.N#{{else}}null#end,\n'
        # animated sources keep their frames in WebP/GIF variants; alpha lets format=auto pick PNG
        f' "animated": #if({s}.animated.BOOL)true#{{else}}false#end,\n'
        f' "frames": #if({s}.frames.N){s}.frames.N#{{else}}null#end,\n'
        f' "alpha": #if({s}.alpha.BOOL)true#{{else}}false#end,\n'
        f'#if({s}.error.S) "error": "$util.escapeJavaScript({s}.error.S){UNQUOTE}",\n#end'
        ' "variants": {#if($vs)#foreach($name in $vs.keySet())#set($v = $vs.get($name).M)\n'
        '  "$name": {"format": "$v.format.S",\n'
        f'   "key": "$util.escapeJavaScript($v.key.S){UNQUOTE}",\n'
        '   "width": $v.width.N, "height": $v.height.N, "bytes": $v.bytes.N,\n'
        '#if($v.frames.N)   "frames": $v.frames.N,\n#end'
        f'   "url": "/images/$util.urlEncode({s}.image_id.S)/variants/$util.urlEncode($name)"'
        "}#if($foreach.hasNext),#end\n"
        "#end#end}}"
    )


def get_item_request_template(table_name: str) -> str:
    return json.dumps(
        {"TableName": table_name, "Key": {"image_id": {"S": "__ID__"}}, "ConsistentRead": False}
    ).replace("__ID__", f"$util.escapeJavaScript($input.params('image_id')){UNQUOTE}")


GET_ITEM_RESPONSE_TEMPLATE = (
    "#set($item = $input.path('$.Item'))\n"
    "#if(!$item)\n"
    "#set($context.responseOverride.status = 404)\n"
    '{"message": "image not found", '
    f'"image_id": "$util.escapeJavaScript($input.params(\'image_id\')){UNQUOTE}"}}\n'
    "#else\n" + _item_template("item") + "\n#end"
)


STATUS_INDEX = "by_status"
LIST_LIMIT = 20
"""Page size of ``GET /images?status=…`` without ``limit`` (``limit`` takes 1..100)."""
CURSOR_SEPARATOR = "~"

# Both templates of GET /images start with the same checks: mapping templates cannot answer
# themselves, so on bad parameters the request template asks DynamoDB for nothing
# (status "-": no such items) and the response template, seeing the same $bad, answers 400.
_LIST_CHECKS = (
    "#set($sk = $input.params('source_key'))\n"
    "#set($st = $input.params('status'))\n"
    "#set($lim = $input.params('limit'))\n"
    "#set($cur = $input.params('cursor'))\n"
    '#set($bad = "")\n'
    '#if($sk == "")\n'
    '#if($st == "")#set($bad = "give source_key (the records of one upload) or status=done, '
    'processing or failed (the newest images in that state)")\n'
    '#elseif(!$st.matches("processing|done|failed"))'
    '#set($bad = "status must be processing, done or failed")\n'
    "#end\n"
    '#if($bad == "" && $lim != "" && !$lim.matches("[1-9][0-9]?|100"))'
    '#set($bad = "limit must be a whole number from 1 to 100")#end\n'
    '#if($bad == "" && $cur != "" && !$cur.matches('
    f'"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T[0-9:.]{{5,15}}(Z|[+-][0-9:]{{5}}){CURSOR_SEPARATOR}[0-9a-f]{{16}}"))'
    '#set($bad = "cursor must be the next_cursor of the previous page, unchanged")#end\n'
    "#end\n"
)


def query_request_template(table_name: str) -> str:
    """``GET /images``: ``source_key=…`` queries ``by_source_key`` (newest first, up to 50);
    ``status=…&limit=&cursor=`` pages through ``by_status`` newest first. The cursor is the last
    item's ``created_at`` and ``image_id`` (the index's sort key and the table's key), checked by
    pattern before it goes into ``ExclusiveStartKey``."""
    by_key = json.dumps(
        {
            "TableName": table_name,
            "IndexName": SOURCE_KEY_INDEX,
            "KeyConditionExpression": "source_key = :k",
            "ExpressionAttributeValues": {":k": {"S": "__KEY__"}},
            "ScanIndexForward": False,  # newest upload of that key first
            "Limit": 50,
        }
    ).replace("__KEY__", f"$util.escapeJavaScript($sk){UNQUOTE}")
    by_status = json.dumps(
        {
            "TableName": table_name,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#s = :s",  # status is a DynamoDB reserved word
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": "__STATUS__"}},
            "ScanIndexForward": False,  # newest first
            "Limit": 0,
        }
    )
    head, tail = by_status.rsplit('"Limit": 0', 1)
    by_status = (
        # a literal "#s" would be read as a Velocity directive: print the '#' from a variable
        "#set($hash = '#')\n"
        + head.replace("#s", "${hash}s").replace("__STATUS__", '#if($bad == "")$st#{else}-#end')
        + '"Limit": #if($bad == "" && $lim != "")$lim#{else}'
        + str(LIST_LIMIT)
        + "#end"
        + '#if($bad == "" && $cur != "")'
        + f'#set($at = $cur.indexOf("{CURSOR_SEPARATOR}"))#set($after = $at + 1)'
        + ', "ExclusiveStartKey": {"status": {"S": "$st"}, "created_at": {"S": "$cur.substring(0, $at)"},'
        + ' "image_id": {"S": "$cur.substring($after)"}}#end'
        + tail
    )
    return _LIST_CHECKS + '#if($sk != "")\n' + by_key + "\n#else\n" + by_status + "\n#end"


QUERY_RESPONSE_TEMPLATE = (
    _LIST_CHECKS
    + "#set($items = $input.path('$.Items'))\n"
    + '#if($bad != "")\n'
    + "#set($context.responseOverride.status = 400)\n"
    + '{"message": "$bad"}\n'
    + '#elseif($sk != "")\n'
    + f'{{"source_key": "$util.escapeJavaScript($sk){UNQUOTE}",\n'
    + ' "count": #if($items)$items.size()#{else}0#end,\n'
    + ' "items": [#foreach($it in $items)\n'
    + _item_template("it")
    + "#if($foreach.hasNext),#end\n#end]}\n"
    + "#else\n"
    + "#set($last = $input.path('$.LastEvaluatedKey'))\n"
    + '{"status": "$st",\n'
    + ' "count": #if($items)$items.size()#{else}0#end,\n'
    + ' "items": [#foreach($it in $items)\n'
    + _item_template("it")
    + "#if($foreach.hasNext),#end\n#end],\n"
    + f' "next_cursor": #if($last)"$last.created_at.S{CURSOR_SEPARATOR}$last.image_id.S"#{{else}}null#end}}\n'
    + "#end"
)


def preflight_template(origins: Sequence[str]) -> str:
    """MOCK integration response: echo the request's Origin when it is an allowed one."""
    if "*" in origins or len(origins) == 1:
        return ""
    allowed = "|".join(json.dumps(o)[1:-1] for o in origins)
    return (
        "#set($origin = $input.params('Origin'))\n"
        f'#set($allowed = "|{allowed}|")\n'
        '#if($origin != "" && $allowed.contains("|$origin|"))'
        "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)#end\n"
    )


UPLOAD_RESPONSE_TEMPLATE = (
    '{"key": "$util.escapeJavaScript($input.params(\'key\'))'
    + UNQUOTE
    + '", "message": "uploaded; processing starts now"}'
)
"""The answer to a stored ``PUT /uploads/{key+}``."""
