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
    served: answers name no bucket (issue 12); the ``url`` is how a client gets the bytes.
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
        f'#if({s}.error.S) "error": "$util.escapeJavaScript({s}.error.S){UNQUOTE}",\n#end'
        ' "variants": {#if($vs)#foreach($name in $vs.keySet())#set($v = $vs.get($name).M)\n'
        '  "$name": {"format": "$v.format.S",\n'
        f'   "key": "$util.escapeJavaScript($v.key.S){UNQUOTE}",\n'
        '   "width": $v.width.N, "height": $v.height.N, "bytes": $v.bytes.N,\n'
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


def query_request_template(table_name: str) -> str:
    return json.dumps(
        {
            "TableName": table_name,
            "IndexName": SOURCE_KEY_INDEX,
            "KeyConditionExpression": "source_key = :k",
            "ExpressionAttributeValues": {":k": {"S": "__KEY__"}},
            "ScanIndexForward": False,  # newest upload of that key first
            "Limit": 50,
        }
    ).replace("__KEY__", f"$util.escapeJavaScript($input.params('source_key')){UNQUOTE}")


QUERY_RESPONSE_TEMPLATE = (
    "#set($items = $input.path('$.Items'))\n"
    f'{{"source_key": "$util.escapeJavaScript($input.params(\'source_key\')){UNQUOTE}",\n'
    ' "count": #if($items)$items.size()#{else}0#end,\n'
    ' "items": [#foreach($it in $items)\n' + _item_template("it") + "#if($foreach.hasNext),#end\n#end]}"
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
