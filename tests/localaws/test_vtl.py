"""Mapping-template rendering of the local API Gateway (``localaws.vtl``)."""

from __future__ import annotations

import json

import pytest

from localaws import vtl

PARAMS = {
    "path": {"image_id": "abc123", "key": "dir/my photo.jpg"},
    "querystring": {"w": "200"},
    "header": {"Content-Type": "image/jpeg", "X-Api-Key": "k"},
}


def render(template: str, body: str = "", context: dict | None = None, stage_vars: dict | None = None) -> str:
    return vtl.render(
        template, body, PARAMS, vtl.TemplateContext({} if context is None else context, stage_vars or {})
    )


def test_input_params_by_name_searches_path_query_then_headers_case_insensitively() -> None:
    out = render(
        "$input.params('image_id')|$input.params('w')|$input.params('content-type')|$input.params('x')"
    )
    assert out == "abc123|200|image/jpeg|"


def test_input_params_map_iterates_with_foreach_has_next() -> None:
    template = (
        "{#foreach($type in $input.params().keySet())"
        '"$type": $input.params().get($type).size()#if($foreach.hasNext),#end#end}'
    )
    assert json.loads(render(template)) == {"path": 2, "querystring": 1, "header": 2}


def test_input_path_and_json() -> None:
    body = json.dumps({"Item": {"image_id": {"S": "abc"}, "tags": {"L": [{"S": "a"}, {"S": "b"}]}}})
    assert render("$input.path('$.Item.image_id.S')", body) == "abc"
    assert render("$input.path('$.Item.tags.L[1].S')", body) == "b"
    assert render("$input.path(\"$['Item']['image_id']['S']\")", body) == "abc"
    assert json.loads(render("$input.json('$.Item.image_id')", body)) == {"S": "abc"}
    assert render("#if($input.path('$.Missing'))yes#{else}no#end", body) == "no"
    assert json.loads(render("$input.json('$')", "")) == {}  # AWS: empty payload is {}


def test_input_body_is_the_raw_payload() -> None:
    assert render("$input.body", "raw text, not JSON") == "raw text, not JSON"


def test_set_if_elseif_else() -> None:
    template = "#set($n = $input.params('w'))#if($n == '100')small#elseif($n == '200')medium#{else}large#end"
    assert render(template) == "medium"


def test_util_functions() -> None:
    assert render("$util.escapeJavaScript($input.params('key'))") == "dir/my photo.jpg"
    assert render("$util.escapeJavaScript('say \"hi\"')") == 'say \\"hi\\"'
    # AWS documents that escapeJavaScript turns ' into \' (not valid JSON: a known AWS quirk).
    assert render('$util.escapeJavaScript("it\'s")') == "it\\'s"
    assert render("$util.urlEncode($input.params('key'))") == "dir%2Fmy+photo.jpg"
    assert render("$util.urlDecode('dir%2Fmy+photo.jpg')") == "dir/my photo.jpg"
    assert render("$util.base64Encode('hello')") == "aGVsbG8="
    assert render("$util.base64Decode('aGVsbG8=')") == "hello"
    assert render("#set($o = $util.parseJson('{\"a\": [1, 2]}'))$o.a.size()") == "2"


def test_string_methods_follow_java() -> None:
    # String.indexOf answers -1 when absent (templates branch on it); matches is a full match
    assert render('$input.params("key").indexOf("/")|$input.params("key").indexOf("~")') == "3|-1"
    assert (
        render('#set($k = $input.params("key"))#set($i = $k.indexOf("/") + 1)$k.substring($i)')
        == "my photo.jpg"
    )
    assert render('$input.params("w").matches("[0-9]+")|$input.params("w").matches("0")') == "true|false"


def test_context_and_stage_variables() -> None:
    out = render(
        "$context.requestId $context.stage $stageVariables.bucket",
        context={"requestId": "r-1", "stage": "dev"},
        stage_vars={"bucket": "b1"},
    )
    assert out == "r-1 dev b1"


def test_response_override_is_visible_to_the_caller() -> None:
    context: dict = {}
    render("#set($context.responseOverride.status = 404)", context=context)
    assert context["responseOverride"]["status"] == 404


def test_dynamodb_item_to_clean_json() -> None:
    """The kind of response template the GET /images/{image_id} route uses."""
    template = """#set($item = $input.path('$.Item'))
#if(!$item)
#set($context.responseOverride.status = 404)
{"message": "image not found"}
#else
{"image_id": "$util.escapeJavaScript($item.image_id.S)", "width": $item.width.N,
 "variants": {#foreach($name in $item.variants.M.keySet())#set($v = $item.variants.M.get($name).M)
"$name": {"key": "$util.escapeJavaScript($v.key.S)", "bytes": $v.bytes.N}#if($foreach.hasNext),#end#end}}
#end"""
    body = json.dumps(
        {
            "Item": {
                "image_id": {"S": "abc"},
                "width": {"N": "640"},
                "variants": {
                    "M": {
                        "thumb": {"M": {"key": {"S": "a_thumb.jpg"}, "bytes": {"N": "1200"}}},
                        "webp": {"M": {"key": {"S": 'a "q".webp'}, "bytes": {"N": "900"}}},
                    }
                },
            }
        }
    )
    assert json.loads(render(template, body)) == {
        "image_id": "abc",
        "width": 640,
        "variants": {
            "thumb": {"key": "a_thumb.jpg", "bytes": 1200},
            "webp": {"key": 'a "q".webp', "bytes": 900},
        },
    }
    context: dict = {}
    assert json.loads(render(template, "{}", context=context)) == {"message": "image not found"}
    assert context["responseOverride"]["status"] == 404


def test_bad_jsonpath_is_a_clear_error() -> None:
    with pytest.raises(vtl.TemplateError, match="JSONPath must start"):
        render("$input.path('Item')", "{}")
