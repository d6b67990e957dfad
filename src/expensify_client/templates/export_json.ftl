<#ftl output_format="plainText" strip_whitespace=true>
<#--
  expense-bridge export template, format 1 (Expensify Integration Server, export dialect).

  Output: one JSON document {"reports":[...]} with every report and its expenses, followed by a
  single newline. The template is type-agnostic on purpose: it never fails on odd data, it
  renders what it finds and leaves the judging to expensify_client.parse_report_export.
    - jv(): a JSON value by the FreeMarker type: string -> "json_string", number -> ?c,
      boolean -> true/false, missing or null -> null, anything else -> {}. Sequences,
      collections and methods are tested first: under BeansWrapper a List or Map is also a
      string (its Java toString), and a Map is a method; under both wrappers they give {}.
    - js(): a JSON string: like jv() but numbers and booleans are rendered as their ?c text
      inside quotes (IDs, codes and names must arrive as strings).
  No locale formatting anywhere (?c only), every value guarded, separators by <#sep>.
  Every value is read by a fixed key (h[k] with a literal k): the template never enumerates
  a hash (no ?keys, no <#list h as k, v>), because the server's object wrapper decides what
  enumeration yields (under BeansWrapper a bean's ?keys lists getClass, class, empty...).
  So report fields (customField.*) are read only by names fixed in the template:
  expensify_client.export_template(report_fields) writes them into the "reportFields" line
  ({"Project_Code":${js(cf, "Project_Code")}, ...}, keys as Expensify spells them: every
  non-alphanumeric character of the field name becomes "_"); this file lists none.
    - attendees(): the expense's attendee list as [{"email":...,"displayName":...}] (string
      slots); null when absent or not a list; an item that is not a hash (or is missing)
      gives both values null, which is also what BeansWrapper's bean lookup gives.
  The Python rendition in expensify_client.emulator._render must stay byte-for-byte equal.
-->
<#function jv h k>
  <#if !(h[k]??)><#return "null"></#if>
  <#local v = h[k]>
  <#if v?is_sequence || v?is_collection || v?is_method><#return "{}"></#if>
  <#if v?is_string><#return "\"" + v?json_string + "\""></#if>
  <#if v?is_number><#return v?c></#if>
  <#if v?is_boolean><#return v?c></#if>
  <#return "{}">
</#function>
<#function js h k>
  <#if !(h[k]??)><#return "null"></#if>
  <#local v = h[k]>
  <#if v?is_sequence || v?is_collection || v?is_method><#return "{}"></#if>
  <#if v?is_string><#return "\"" + v?json_string + "\""></#if>
  <#if v?is_number || v?is_boolean><#return "\"" + v?c + "\""></#if>
  <#return "{}">
</#function>
<#function attendees h>
  <#if !(h["attendees"]??)><#return "null"></#if>
  <#local v = h["attendees"]>
  <#if !(v?is_sequence || v?is_collection)><#return "null"></#if>
  <#local out = "">
  <#list v as a>
    <#if a?? && a?is_hash>
      <#local item = "{\"email\":" + js(a, "email") + ",\"displayName\":" + js(a, "displayName") + "}">
    <#else>
      <#local item = "{\"email\":null,\"displayName\":null}">
    </#if>
    <#local out = out + item>
    <#sep><#local out = out + ","></#sep>
  </#list>
  <#return "[" + out + "]">
</#function>
{"reports":[<#t>
<#list reports![] as r>
<#assign sub = r.submitter!{}>
<#assign cf = r.customField!{}>
{"reportID":${js(r, "reportID")},<#t>
"oldReportID":${js(r, "oldReportID")},<#t>
"reportName":${js(r, "reportName")},<#t>
"status":${js(r, "status")},<#t>
"state":${js(r, "state")},<#t>
"policyID":${js(r, "policyID")},<#t>
"policyName":${js(r, "policyName")},<#t>
"currency":${js(r, "currency")},<#t>
"total":${jv(r, "total")},<#t>
"accountEmail":${js(r, "accountEmail")},<#t>
"accountID":${js(r, "accountID")},<#t>
"managerEmail":${js(r, "managerEmail")},<#t>
"created":${js(r, "created")},<#t>
"submitted":${js(r, "submitted")},<#t>
"approved":${js(r, "approved")},<#t>
"reimbursed":${js(r, "reimbursed")},<#t>
"entryID":${js(r, "entryID")},<#t>
"isACHReimbursed":${jv(r, "isACHReimbursed")},<#t>
"submitter":{"firstName":${js(sub, "firstName")},<#t>
"lastName":${js(sub, "lastName")},<#t>
"fullName":${js(sub, "fullName")}},<#t>
"submitterUserID":${js(r, "submitterUserID")},<#t>
"submitterPayrollID":${js(r, "submitterPayrollID")},<#t>
"employeeCustomField1":${js(r, "employeeCustomField1")},<#t>
"employeeCustomField2":${js(r, "employeeCustomField2")},<#t>
"reportFields":{},<#t>
"transactionList":[<#t>
<#list r.transactionList![] as x>
<#assign receipt = x.receiptObject!{}>
{"transactionID":${js(x, "transactionID")},<#t>
"amount":${jv(x, "amount")},<#t>
"modifiedAmount":${jv(x, "modifiedAmount")},<#t>
"convertedAmount":${jv(x, "convertedAmount")},<#t>
"currency":${js(x, "currency")},<#t>
"currencyConversionRate":${jv(x, "currencyConversionRate")},<#t>
"merchant":${js(x, "merchant")},<#t>
"modifiedMerchant":${js(x, "modifiedMerchant")},<#t>
"created":${js(x, "created")},<#t>
"modifiedCreated":${js(x, "modifiedCreated")},<#t>
"modified":${jv(x, "modified")},<#t>
"inserted":${js(x, "inserted")},<#t>
"category":${js(x, "category")},<#t>
"categoryGlCode":${js(x, "categoryGlCode")},<#t>
"categoryPayrollCode":${js(x, "categoryPayrollCode")},<#t>
"tag":${js(x, "tag")},<#t>
"tagGlCode":${js(x, "tagGlCode")},<#t>
"ntag1":${js(x, "ntag1")},<#t>
"ntag1GlCode":${js(x, "ntag1GlCode")},<#t>
"ntag2":${js(x, "ntag2")},<#t>
"ntag2GlCode":${js(x, "ntag2GlCode")},<#t>
"ntag3":${js(x, "ntag3")},<#t>
"ntag3GlCode":${js(x, "ntag3GlCode")},<#t>
"ntag4":${js(x, "ntag4")},<#t>
"ntag4GlCode":${js(x, "ntag4GlCode")},<#t>
"ntag5":${js(x, "ntag5")},<#t>
"ntag5GlCode":${js(x, "ntag5GlCode")},<#t>
"comment":${js(x, "comment")},<#t>
"reimbursable":${jv(x, "reimbursable")},<#t>
"billable":${jv(x, "billable")},<#t>
"hasTax":${jv(x, "hasTax")},<#t>
"taxAmount":${jv(x, "taxAmount")},<#t>
"taxName":${js(x, "taxName")},<#t>
"taxRate":${jv(x, "taxRate")},<#t>
"taxCode":${js(x, "taxCode")},<#t>
"mcc":${js(x, "mcc")},<#t>
"bank":${js(x, "bank")},<#t>
"cardID":${js(x, "cardID")},<#t>
"cardNumber":${js(x, "cardNumber")},<#t>
"externalID":${js(x, "externalID")},<#t>
"receiptObject":{"url":${js(receipt, "url")}},<#t>
"attendees":${attendees(x)}}<#sep>,</#sep><#t>
</#list>
]}<#sep>,</#sep><#t>
</#list>
]}
