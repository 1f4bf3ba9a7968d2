"""The mutation catalogue of test_suite_can_fail.py: each :class:`Case` is one
mutation and the conformance tests it must fail; each :class:`Group` runs
several cases, touching disjoint requests, in one suite run."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mutating_proxy import (
    Composite, Exchange, Leak, LeakImages, Mutation, Request, RewriteRequest, change_status, drop_everywhere,
    drop_field, edit_json, framework_error, ignore_query, plain_text_error, remap_status,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
UUID = r"[0-9a-fA-F-]{32,36}"


# ---------------------------------------------------------------- the mutations


def _spare_first_auth() -> Callable[[Exchange], bool]:
    """A ``when`` for token mutations: the first token each user and scope
    get (the client's own session login, which openstacksdk needs intact to
    run anything at all) is spared; every later one — the tokens the tests
    issue and validate — is mutated."""
    seen: set[str] = set()
    lock = threading.Lock()

    def when(ex: Exchange) -> bool:
        if ex.method != "POST":
            return True
        try:
            auth = json.loads(ex.request_body)["auth"]
            key = json.dumps([auth["identity"], auth.get("scope")], sort_keys=True)
        except (ValueError, KeyError, TypeError):
            return True
        if not isinstance(auth.get("scope"), dict):  # a session login is project-scoped
            return True
        with lock:
            if key in seen:
                return True
            seen.add(key)
            return False

    return when


IDENTITY_IMAGE = ("conformance/identity", "conformance/image")
VOLUME = ("conformance/volume",)
#: the data plane (SSH into the guests, TCP to them over IPv6 and floating IPs): its tests boot servers
#: and wait on packets (minutes), so they run in the baseline and in a group of their own only, under
#: mutations that make the cloud do something else than the API says (:data:`DATA_PLANE_CASES`)
DATA_PLANE = ("conformance/compute/test_ssh.py", "conformance/network/test_dataplane.py")


def _modules(directory: str) -> tuple[str, ...]:
    """The test modules of ``conformance/<directory>`` (so a new module is
    in the proxied runs, and in the coverage, at once), but the data plane's."""
    found = sorted((ROOT / "conformance" / directory).glob("test_*.py"))
    return tuple(m for m in (f"conformance/{directory}/{p.name}" for p in found) if m not in DATA_PLANE)


NETWORK = _modules("network")
COMPUTE = _modules("compute")
#: what the broad mutations run on
ALL_PARTS = IDENTITY_IMAGE + VOLUME + NETWORK + COMPUTE
#: what the baseline runs: everything (and so what the coverage is of)
BASELINE_PARTS = ALL_PARTS + DATA_PLANE


@dataclass(frozen=True)
class Case:
    """A mutation, the tests it must make fail (node id substrings) and the
    parts of the suite that hold them."""

    name: str
    make: Callable[[], Any]
    must_fail: tuple[str, ...]
    parts: tuple[str, ...] = IDENTITY_IMAGE


CASES = [
    Case(
        "token-without-expires_at",
        lambda: drop_field("drop token.expires_at", r"/identity/v3/auth/tokens", "token.expires_at",
                           methods=("POST", "GET"), when=_spare_first_auth()),
        (
            "identity/test_tokens.py::test_create_token",
            "identity/test_tokens.py::test_create_unscoped_token",
            "identity/test_tokens.py::test_validate_token",
            "identity/test_catalog.py::test_token_catalog_matches_auth_catalog",
        ),
    ),
    Case(
        "image-404-becomes-200",
        lambda: change_status("GET image 404 -> 200", rf"/image/v2/images/{UUID}", 404, 200, methods=("GET",)),
        (
            "image/test_images.py::test_get_non_existent_image",
            "image/test_images.py::test_get_delete_deleted_image",
            "image/test_images.py::test_delete_image",
            "image/test_isolation.py::test_another_tenants_private_image_is_404",
        ),
    ),
    Case(
        "keystone-401-plain-text",
        lambda: plain_text_error("keystone 401 body -> text", r"/identity/.*", 401),
        (
            "identity/test_tokens.py::test_create_token_wrong_password_is_401",
            "identity/test_tokens.py::test_create_token_unknown_user_is_401",
            "identity/test_catalog.py::test_catalog_needs_a_valid_token",
            "identity/test_projects.py::test_list_projects_needs_a_token",
            "identity/test_tokens.py::test_token_auth_creation_existence_deletion",
        ),
    ),
    Case(
        "alt-image-leaks-into-list",
        LeakImages,
        ("image/test_isolation.py::test_another_tenants_private_image_is_not_listed",),
    ),
]
#: More mutations, so that every image test is failed by at least one.
CASES += [
    Case(
        "image-put-refusals-become-204",
        lambda: change_status("PUT file/tag 404/409 -> 204", rf"/image/v2/images/{UUID}/(file|tags/.*)", (404, 409),
                              204, methods=("PUT",)),
        (
            "image/test_images.py::test_upload_to_active_image_is_409",
            "image/test_update.py::test_update_tags_for_non_existing_image",
        ),
    ),
    Case(
        "image-patch-errors-become-200",
        lambda: change_status("PATCH image 4xx -> 200", rf"/image/v2/images/{UUID}", range(400, 500), 200,
                              methods=("PATCH",)),
        (
            "image/test_update.py::test_bad_json_patch_is_400",
            "image/test_update.py::test_patch_read_only_attribute_is_403",
            "image/test_update.py::test_patch_with_wrong_media_type_is_415",
            "image/test_isolation.py::test_another_tenants_private_image_is_404",
        ),
    ),
    Case(
        "image-delete-refusals-become-204",
        lambda: change_status("DELETE image 403/404/405 -> 204", r"/image/v2/images(/.*)?", (403, 404, 405), 204,
                              methods=("DELETE",)),
        (
            "image/test_images.py::test_delete_image_null_id",
            "image/test_images.py::test_delete_protected_image_is_403",
            "image/test_images.py::test_delete_non_existing_image",
            "image/test_images.py::test_get_delete_deleted_image",
            "image/test_update.py::test_delete_non_existing_tag",
        ),
    ),
    Case(
        "image-show-without-checksum",
        lambda: drop_field("drop checksum from GET image", rf"/image/v2/images/{UUID}", "checksum", methods=("GET",)),
        (
            "image/test_images.py::test_get_image",
            "image/test_images.py::test_create_upload_download_image",
            "image/test_update.py::test_update_image",
            "image/test_update.py::test_update_delete_tags_for_image",
        ),
    ),
    Case(
        "image-schemas-without-name",
        lambda: drop_field("drop name from schemas", r"/image/v2/schemas/.*", "name", methods=("GET",)),
        ("image/test_images.py::test_get_image_schema", "image/test_images.py::test_get_images_schema"),
    ),
]
CASES += [
    Case(
        "keystone-refusals-become-200",
        lambda: change_status("keystone 400/403/404 -> 200", r"/identity/.*", (400, 403, 404), 200),
        (
            "identity/test_tokens.py::test_create_token_malformed_request_is_400",
            "identity/test_tokens.py::test_validate_unknown_token_is_404",
            "identity/test_tokens.py::test_delete_unknown_token_is_404",
            "identity/test_projects.py::test_member_cannot_list_users",
            "identity/test_projects.py::test_show_unknown_project_is_404",
        ),
    ),
]
VOLUME_PATH = r"/volume/v3/(?:[^/]+/)?volumes/" + UUID
CASES += [
    Case(
        "cinder-404-as-plain-text",
        lambda: plain_text_error("cinder 404 -> text/plain", r"/volume/v3/.*", 404, "Not Found\n"),
        ("volume/test_volumes.py::test_volume_get_nonexistent_volume_id",
         "volume/test_volumes.py::test_delete_invalid_volume_id",
         "volume/test_metadata.py::test_metadata_of_nonexistent_volume_is_404"),
        VOLUME,
    ),
    Case(
        "volume-without-readonly",
        lambda: drop_field("drop volume.metadata.readonly", VOLUME_PATH + "$", "volume.metadata.readonly",
                           methods=("GET",)),
        ("volume/test_actions.py::test_volume_readonly_update",),
        VOLUME,
    ),
    Case(
        "volume-with-snapshots-deletable",
        lambda: change_status("cinder DELETE 400 -> 202", VOLUME_PATH, 400, 202, methods=("DELETE",)),
        ("volume/test_snapshots.py::test_delete_volume_with_snapshots_is_400",),
        VOLUME,
    ),
    Case(
        "network-without-status",
        lambda: drop_field("drop network.status", r"/network/v2\.0/networks/" + UUID, "network.status",
                           methods=("GET",)),
        ("network/test_networks.py::test_show_network",),
        NETWORK,
    ),
    Case(
        "network-in-use-deletable",
        lambda: change_status("neutron DELETE 409 -> 204", r"/network/v2\.0/(networks|subnets)/" + UUID, 409, 204,
                              methods=("DELETE",)),
        ("network/test_networks.py::test_delete_network_and_subnet_in_use_is_409",),
        NETWORK,
    ),
    Case(
        "neutron-refusals-become-500",
        lambda: change_status("neutron POST subnets 400 -> 500", r"/network/v2\.0/subnets", 400, 500,
                              methods=("POST",)),
        ("network/test_networks.py::test_invalid_cidr_is_400",),
        NETWORK,
    ),
]
#: the tests each new case must fail, in its group's run (found with the by-hand sweep, each failure
#: read: the case's own change is what the test's assertion reports)
MUST_FAIL: dict[str, tuple[str, ...]] = {
    "availability-zones-without-state": (
        "compute/test_availability_zones.py::*",
        "volume/test_service.py::test_get_availability_zone_list",
    ),
    "compute-errors-as-framework-json": (
        "compute/test_actions.py::test_get_instance_action_unknown_is_404",
        "compute/test_actions.py::test_reboot_non_existent_server",
        "compute/test_actions.py::test_reboot_with_invalid_type_is_400",
        "compute/test_actions.py::test_rebuild_non_existent_server",
        "compute/test_actions.py::test_start_active_server_is_409",
        "compute/test_actions.py::test_stop_non_existent_server",
        "compute/test_create.py::test_multiple_create_min_count_above_max_count_is_400",
        "compute/test_delete.py::test_delete_active_server",
        "compute/test_delete.py::test_delete_deleted_server_is_404",
        "compute/test_delete.py::test_delete_non_existent_server",
        "compute/test_delete.py::test_delete_server_pass_id_exceeding_length_limit",
        "compute/test_delete.py::test_delete_server_pass_negative_id",
        "compute/test_delete.py::test_rebuild_deleted_server",
        "compute/test_flavors.py::test_get_non_existent_flavor",
        "compute/test_images.py::test_create_image_of_non_existent_server_is_404",
        "compute/test_images.py::test_create_image_without_name_is_400",
        "compute/test_isolation.py::test_all_tenants_as_a_user_shows_no_other_project",
        "compute/test_isolation.py::test_another_tenant_cannot_touch_the_server",
        "compute/test_isolation.py::test_another_tenants_server_is_404",
        "compute/test_isolation.py::test_another_users_keypair_is_404",
        "compute/test_keypairs.py::test_keypair_errors",
        "compute/test_keypairs.py::test_keypair_unknown_type_is_400",
        "compute/test_list.py::test_list_servers_by_changes_since_invalid_date",
        "compute/test_list.py::test_list_servers_by_limits_pass_negative_value",
        "compute/test_list.py::test_list_servers_by_limits_pass_string",
        "compute/test_list.py::test_list_servers_unknown_marker_is_400",
        "compute/test_metadata.py::test_metadata_of_unknown_key_or_server_is_404",
        "compute/test_metadata.py::test_set_metadata_item_errors_are_400",
        "compute/test_resize.py::test_resize_server_with_null_flavor",
        "compute/test_servers.py::test_create_malformed_request_is_400",
        "compute/test_servers.py::test_create_numeric_server_name",
        "compute/test_servers.py::test_create_server_metadata_exceeds_length_limit",
        "compute/test_servers.py::test_create_server_name_length_exceeds_256",
        "compute/test_servers.py::test_create_with_invalid_flavor",
        "compute/test_servers.py::test_create_with_invalid_image",
        "compute/test_servers.py::test_create_with_invalid_network_uuid",
        "compute/test_servers.py::test_get_non_existent_server",
        "compute/test_servers.py::test_invalid_ip_v6_address",
        "compute/test_servers.py::test_server_addresses",
        "compute/test_servers.py::test_server_name_blank",
        "compute/test_update.py::test_update_invalid_access_address_is_400",
        "compute/test_update.py::test_update_name_of_non_existent_server",
        "compute/test_update.py::test_update_server_name_length_exceeds_256",
        "compute/test_update.py::test_update_server_set_empty_name",
        "compute/test_versions.py::test_unsupported_microversion_is_406",
    ),
    "compute-reads-without-id": (
        "compute/test_actions.py::test_lock_unlock_server",
        "compute/test_actions.py::test_locked_shows_in_server",
        "compute/test_actions.py::test_rebuild_with_unknown_image_is_400",
        "compute/test_actions.py::test_start_active_server_is_409",
        "compute/test_create.py::test_create_with_existing_server_name",
        "compute/test_create.py::test_multiple_create",
        "compute/test_create.py::test_multiple_create_with_reservation_id",
        "compute/test_delete.py::test_list_servers_detail_server_is_deleted",
        "compute/test_delete.py::test_list_servers_with_a_deleted_server",
        "compute/test_flavors.py::test_list_flavors",
        "compute/test_flavors.py::test_list_flavors_paginated",
        "compute/test_flavors.py::test_list_flavors_with_detail",
        "compute/test_images.py::test_create_delete_image",
        "compute/test_images.py::test_create_image_answers_image_id_from_2_45",
        "compute/test_images.py::test_create_image_specify_multibyte_character_image_name",
        "compute/test_isolation.py::test_admin_lists_every_project_with_all_tenants",
        "compute/test_isolation.py::test_another_tenant_cannot_touch_the_server",
        "compute/test_list.py::test_list_servers_by_limits_greater_than_actual_count",
        "compute/test_list.py::test_list_servers_changes_since",
        "compute/test_list.py::test_list_servers_detailed_filter_by_flavor",
        "compute/test_list.py::test_list_servers_detailed_filter_by_image",
        "compute/test_list.py::test_list_servers_detailed_filter_by_server_name",
        "compute/test_list.py::test_list_servers_detailed_filter_by_server_status",
        "compute/test_list.py::test_list_servers_detailed_limit_results",
        "compute/test_list.py::test_list_servers_filter_by_active_status",
        "compute/test_list.py::test_list_servers_filter_by_flavor",
        "compute/test_list.py::test_list_servers_filter_by_image",
        "compute/test_list.py::test_list_servers_filter_by_limit",
        "compute/test_list.py::test_list_servers_filter_by_server_name",
        "compute/test_list.py::test_list_servers_filtered_by_name_wildcard",
        "compute/test_list.py::test_list_servers_pages_with_marker",
        "compute/test_quotas.py::*",
        "compute/test_resize.py::*",
        "compute/test_servers.py::test_get_server_matches_detail_list",
        "compute/test_servers.py::test_list_servers",
        "compute/test_servers.py::test_list_servers_with_detail",
        "compute/test_servers.py::test_server_addresses",
        "compute/test_update.py::test_update_access_server_address",
        "compute/test_update.py::test_update_invalid_access_address_is_400",
        "compute/test_update.py::test_update_server_name",
        "compute/test_update.py::test_update_server_name_length_exceeds_256",
        "compute/test_update.py::test_update_server_set_empty_name",
        "compute/test_volume_attach.py::*",
    ),
    "compute-versions-out-of-order": (
        "compute/test_versions.py::test_list_api_versions",
    ),
    "compute-writes-answer-200": (
        "compute/test_actions.py::test_lock_unlock_server",
        "compute/test_actions.py::test_locked_shows_in_server",
        "compute/test_actions.py::test_stop_start_server",
        "compute/test_create.py::test_create_with_existing_server_name",
        "compute/test_create.py::test_multiple_create",
        "compute/test_create.py::test_multiple_create_with_reservation_id",
        "compute/test_images.py::test_create_delete_image",
        "compute/test_images.py::test_create_image_answers_image_id_from_2_45",
        "compute/test_images.py::test_create_image_specify_multibyte_character_image_name",
        "compute/test_keypairs.py::test_generate_show_list_delete_keypair",
        "compute/test_keypairs.py::test_keypairsv22_create_list_show_with_type",
        "compute/test_metadata.py::test_delete_server_metadata_item",
        "compute/test_resize.py::test_resize_server_confirm",
    ),
    "extensions-without-alias": (
        "network/test_versions.py::test_list_and_show_extensions",
        "volume/test_service.py::test_list_extensions",
    ),
    "identity-errors-as-framework-json": (
        "identity/test_catalog.py::test_catalog_needs_a_valid_token",
        "identity/test_projects.py::test_list_projects_needs_a_token",
        "identity/test_projects.py::test_member_cannot_list_users",
        "identity/test_projects.py::test_show_another_tenants_project_is_403",
        "identity/test_projects.py::test_show_unknown_project_is_404",
        "identity/test_tokens.py::test_create_token_for_a_project_not_ours_is_401",
        "identity/test_tokens.py::test_create_token_malformed_request_is_400",
        "identity/test_tokens.py::test_create_token_unknown_project_scope_is_401",
        "identity/test_tokens.py::test_create_token_unknown_user_is_401",
        "identity/test_tokens.py::test_create_token_wrong_password_is_401",
        "identity/test_tokens.py::test_delete_unknown_token_is_404",
        "identity/test_tokens.py::test_validate_unknown_token_is_404",
        "identity/test_tokens.py::test_validate_without_subject_is_400",
    ),
    "identity-reads-without-id": (
        "identity/test_catalog.py::test_catalog_standardization",
        "identity/test_catalog.py::test_token_catalog_matches_auth_catalog",
        "identity/test_projects.py::test_admin_lists_users",
        "identity/test_projects.py::test_list_my_projects",
        "identity/test_projects.py::test_list_projects_returns_only_authorized_projects",
        "identity/test_projects.py::test_show_my_project",
    ),
    "identity-root-v3-deprecated": (
        "identity/test_discovery.py::test_version_discovery_without_a_token",
    ),
    "identity-v3-document-unknown-status-without-media-types": (
        "identity/test_discovery.py::test_api_media_types",
        "identity/test_discovery.py::test_api_version_resources",
        "identity/test_discovery.py::test_api_version_statuses",
    ),
    "identity-writes-answer-200": (
        "identity/test_catalog.py::test_token_catalog_matches_auth_catalog",
        "identity/test_tokens.py::test_create_token",
        "identity/test_tokens.py::test_create_unscoped_token",
        "identity/test_tokens.py::test_delete_another_users_token_is_403",
        "identity/test_tokens.py::test_token_auth_creation_existence_deletion",
        "identity/test_tokens.py::test_validate_another_users_token_is_403",
        "identity/test_tokens.py::test_validate_nocatalog",
        "identity/test_tokens.py::test_validate_token",
    ),
    "image-errors-as-framework-json": (
        "image/test_images.py::test_delete_image_null_id",
        "image/test_images.py::test_delete_non_existing_image",
        "image/test_images.py::test_get_image_null_id",
        "image/test_images.py::test_get_non_existent_image",
        "image/test_isolation.py::test_another_tenants_private_image_is_404",
        "image/test_update.py::test_update_tags_for_non_existing_image",
    ),
    "image-reads-without-id": (
        "image/test_images.py::test_create_upload_download_image",
        "image/test_images.py::test_delete_image",
        "image/test_images.py::test_get_image",
        "image/test_images.py::test_get_image_schema",
        "image/test_images.py::test_list_no_params",
        "image/test_images.py::test_upload_to_active_image_is_409",
        "image/test_isolation.py::test_another_tenants_private_image_is_not_listed",
        "image/test_list.py::*",
        "image/test_update.py::test_update_delete_tags_for_image",
        "image/test_update.py::test_update_image",
    ),
    "image-writes-answer-200": (
        "image/test_images.py::test_create_upload_download_image",
        "image/test_images.py::test_delete_image",
        "image/test_images.py::test_delete_protected_image_is_403",
        "image/test_images.py::test_get_delete_deleted_image",
        "image/test_images.py::test_get_image",
        "image/test_images.py::test_list_no_params",
        "image/test_images.py::test_upload_to_active_image_is_409",
        "image/test_list.py::*",
        "image/test_update.py::test_bad_json_patch_is_400",
        "image/test_update.py::test_delete_non_existing_tag",
        "image/test_update.py::test_patch_read_only_attribute_is_403",
        "image/test_update.py::test_patch_with_wrong_media_type_is_415",
        "image/test_update.py::test_update_delete_tags_for_image",
        "image/test_update.py::test_update_image",
    ),
    "instance-actions-without-request_id": (
        "compute/test_actions.py::test_get_instance_action",
        "compute/test_actions.py::test_list_instance_actions",
        "compute/test_actions.py::test_reboot_server_hard",
        "compute/test_actions.py::test_rebuild_server",
        "compute/test_actions.py::test_stop_start_server",
    ),
    "keypair-created-without-fingerprint": (
        "compute/test_isolation.py::test_another_users_keypair_is_404",
        "compute/test_keypairs.py::test_create_specify_keypair",
        "compute/test_keypairs.py::test_generate_show_list_delete_keypair",
        "compute/test_keypairs.py::test_import_keypair",
        "compute/test_keypairs.py::test_keypair_errors",
        "compute/test_keypairs.py::test_keypairsv22_create_list_show_with_type",
        "compute/test_servers.py::test_verify_server_details",
    ),
    "microversion-not-honoured": (
        "compute/test_versions.py::test_v21_version_document",
        "volume/test_service.py::test_v3_version_document_and_header",
    ),
    "network-errors-as-framework-json": (
        "network/test_networks.py::test_another_tenants_network_is_hidden",
        "network/test_networks.py::test_bad_gateway_pool_and_version_are_400",
        "network/test_networks.py::test_invalid_cidr_is_400",
        "network/test_networks.py::test_subnet_on_unknown_network_is_404",
        "network/test_networks.py::test_unknown_attribute_is_400",
        "network/test_networks.py::test_unknown_network_is_404",
        "network/test_networks.py::test_unknown_subnet_is_404",
        "network/test_ports.py::test_fixed_ip_in_use_is_409",
        "network/test_ports.py::test_fixed_ip_outside_the_subnet_is_400",
        "network/test_ports.py::test_port_on_unknown_network_is_404",
        "network/test_ports.py::test_unknown_port_is_404",
        "network/test_routers.py::test_delete_non_existent_router_returns_404",
        "network/test_routers.py::test_router_add_gateway_invalid_network_returns_404",
        "network/test_routers.py::test_router_add_gateway_net_not_external_returns_400",
        "network/test_routers.py::test_show_non_existent_router_returns_404",
        "network/test_routers.py::test_unknown_floating_ip_is_404",
        "network/test_routers.py::test_update_non_existent_router_returns_404",
        "network/test_security_groups.py::test_another_tenants_security_group_is_hidden",
        "network/test_security_groups.py::test_create_additional_default_security_group_fails",
        "network/test_security_groups.py::test_create_bad_security_group_rule_is_400",
        "network/test_security_groups.py::test_create_security_group_rule_with_non_existent_remote_groupid",
        "network/test_security_groups.py::test_create_security_group_rule_with_non_existent_security_group",
        "network/test_security_groups.py::test_delete_non_existent_security_group",
        "network/test_security_groups.py::test_ipv6_prefix_with_ipv4_ethertype_is_400",
        "network/test_security_groups.py::test_show_non_existent_security_group",
        "network/test_security_groups.py::test_show_non_existent_security_group_rule",
        "network/test_subnetpools.py::test_invalid_pool_prefix_is_400",
        "network/test_subnetpools.py::test_unknown_subnetpool_is_404",
        "network/test_versions.py::test_unknown_extension_is_404",
    ),
    "network-no-current-version": (
        "network/test_versions.py::test_api_version_resources",
    ),
    "network-reads-without-id": (
        "network/test_networks.py::test_bad_gateway_pool_and_version_are_400",
        "network/test_networks.py::test_create_delete_subnet_with_attributes",
        "network/test_networks.py::test_create_update_delete_network_subnet",
        "network/test_networks.py::test_delete_network_and_subnet_in_use_is_409",
        "network/test_networks.py::test_delete_network_with_subnet",
        "network/test_networks.py::test_ipv6_subnet",
        "network/test_networks.py::test_list_networks",
        "network/test_networks.py::test_list_networks_fields",
        "network/test_networks.py::test_list_subnets",
        "network/test_networks.py::test_list_subnets_fields",
        "network/test_networks.py::test_show_network",
        "network/test_networks.py::test_show_network_fields",
        "network/test_networks.py::test_show_subnet",
        "network/test_networks.py::test_show_subnet_fields",
        "network/test_networks.py::test_subnet_on_unknown_network_is_404",
        "network/test_networks.py::test_update_subnet_gw_dns_host_routes_dhcp",
        "network/test_ports.py::test_create_port_in_allowed_allocation_pools",
        "network/test_ports.py::test_fixed_ip_outside_the_subnet_is_400",
        "network/test_ports.py::test_list_ports",
        "network/test_ports.py::test_list_ports_fields",
        "network/test_ports.py::test_show_port",
        "network/test_ports.py::test_show_port_fields",
        "network/test_ports.py::test_update_port_with_security_groups_and_extra_attributes",
        "network/test_routers.py::test_add_multiple_router_interfaces",
        "network/test_routers.py::test_add_remove_router_interface_with_port_id",
        "network/test_routers.py::test_add_remove_router_interface_with_subnet_id",
        "network/test_routers.py::test_add_router_interfaces_on_overlapping_subnets_returns_400",
        "network/test_routers.py::test_create_show_list_update_delete_router",
        "network/test_routers.py::test_external_network_visibility",
        "network/test_routers.py::test_floating_ip_create_associate_disassociate_delete",
        "network/test_routers.py::test_floating_ip_without_router_to_the_port_is_404",
        "network/test_routers.py::test_port_list_filter_by_router_id",
        "network/test_routers.py::test_remove_interface_not_on_the_router_is_404",
        "network/test_routers.py::test_router_add_gateway_invalid_network_returns_404",
        "network/test_routers.py::test_router_add_gateway_net_not_external_returns_400",
        "network/test_routers.py::test_router_remove_interface_in_use_returns_409",
        "network/test_routers.py::test_update_delete_extra_route",
        "network/test_routers.py::test_update_router_admin_state",
        "network/test_routers.py::test_update_router_unset_gateway",
        "network/test_security_groups.py::test_create_bad_security_group_rule_is_400",
        "network/test_security_groups.py::test_create_list_update_show_delete_security_group",
        "network/test_security_groups.py::test_create_show_delete_security_group_rule",
        "network/test_security_groups.py::test_default_security_group_rules",
        "network/test_security_groups.py::test_delete_security_group_in_use_is_409",
        "network/test_security_groups.py::test_list_security_groups",
        "network/test_subnetpools.py::test_another_tenants_pool_is_hidden",
        "network/test_subnetpools.py::test_create_list_show_update_delete_subnetpools",
        "network/test_subnetpools.py::test_delete_pool_in_use_is_409",
        "network/test_subnetpools.py::test_pool_prefixes_can_grow",
        "network/test_subnetpools.py::test_prefixlen_outside_the_pool_bounds_is_400",
        "network/test_subnetpools.py::test_shared_pool_is_visible_to_users",
        "network/test_subnetpools.py::test_subnet_from_pool",
    ),
    "network-resources-without-collection": (
        "network/test_versions.py::test_v2_lists_its_resources",
    ),
    "network-writes-answer-200": (
        "network/test_networks.py::test_create_delete_subnet_with_attributes",
        "network/test_networks.py::test_create_update_delete_network_subnet",
        "network/test_networks.py::test_delete_network_and_subnet_in_use_is_409",
        "network/test_networks.py::test_delete_network_with_subnet",
        "network/test_networks.py::test_ipv6_subnet",
        "network/test_networks.py::test_update_subnet_gw_dns_host_routes_dhcp",
        "network/test_ports.py::test_create_bulk_port",
        "network/test_ports.py::test_create_port_in_allowed_allocation_pools",
        "network/test_ports.py::test_create_update_delete_port",
        "network/test_ports.py::test_update_port_with_security_groups_and_extra_attributes",
        "network/test_routers.py::test_add_multiple_router_interfaces",
        "network/test_routers.py::test_add_remove_router_interface_with_port_id",
        "network/test_routers.py::test_add_remove_router_interface_with_subnet_id",
        "network/test_routers.py::test_add_router_interfaces_on_overlapping_subnets_returns_400",
        "network/test_routers.py::test_create_show_list_update_delete_router",
        "network/test_routers.py::test_floating_ip_create_associate_disassociate_delete",
        "network/test_routers.py::test_floating_ip_without_router_to_the_port_is_404",
        "network/test_routers.py::test_port_list_filter_by_router_id",
        "network/test_routers.py::test_remove_interface_not_on_the_router_is_404",
        "network/test_routers.py::test_router_remove_interface_in_use_returns_409",
        "network/test_routers.py::test_update_delete_extra_route",
        "network/test_routers.py::test_update_router_admin_state",
        "network/test_routers.py::test_update_router_set_gateway",
        "network/test_routers.py::test_update_router_unset_gateway",
        "network/test_security_groups.py::test_create_duplicate_security_group_rule_fails",
        "network/test_security_groups.py::test_create_ipv6_security_group_rules",
        "network/test_security_groups.py::test_create_list_update_show_delete_security_group",
        "network/test_security_groups.py::test_create_security_group_rule_with_additional_args",
        "network/test_security_groups.py::test_create_security_group_rule_with_icmp_type_code",
        "network/test_security_groups.py::test_create_security_group_rule_with_remote_group_id",
        "network/test_security_groups.py::test_create_security_group_rule_with_remote_ip_prefix",
        "network/test_security_groups.py::test_create_show_delete_security_group_rule",
        "network/test_security_groups.py::test_delete_security_group_in_use_is_409",
        "network/test_security_groups.py::test_equivalent_duplicate_rule_fails",
        "network/test_subnetpools.py::test_another_tenants_pool_is_hidden",
        "network/test_subnetpools.py::test_create_list_show_update_delete_subnetpools",
        "network/test_subnetpools.py::test_delete_pool_in_use_is_409",
        "network/test_subnetpools.py::test_pool_prefixes_can_grow",
        "network/test_subnetpools.py::test_prefixlen_outside_the_pool_bounds_is_400",
        "network/test_subnetpools.py::test_shared_pool_is_visible_to_users",
        "network/test_subnetpools.py::test_subnet_from_pool",
    ),
    "other-tenants-resources-in-lists": (
        "compute/test_isolation.py::test_admin_lists_every_project_with_all_tenants",
        "compute/test_isolation.py::test_another_tenants_server_is_not_listed",
        "volume/test_isolation.py::test_another_tenants_volume_is_not_listed",
    ),
    "other-tenants-resources-shown": (
        "compute/test_isolation.py::test_another_tenants_server_is_404",
        "identity/test_projects.py::test_member_cannot_list_users",
        "identity/test_projects.py::test_show_another_tenants_project_is_403",
        "identity/test_projects.py::test_show_unknown_project_is_404",
        "identity/test_tokens.py::test_validate_another_users_token_is_403",
        "identity/test_tokens.py::test_validate_unknown_token_is_404",
        "image/test_images.py::test_get_delete_deleted_image",
        "image/test_images.py::test_get_non_existent_image",
        "image/test_isolation.py::test_another_tenants_private_image_is_404",
        "network/test_networks.py::test_another_tenants_network_is_hidden",
        "network/test_security_groups.py::test_another_tenants_security_group_is_hidden",
    ),
    "router-gateway-without-address": (
        "network/test_routers.py::test_update_router_set_gateway",
    ),
    "server-create-forgets-adminPass": (
        "compute/test_servers.py::test_create_server_with_admin_password",
    ),
    "server-list-ignores-filters": (
        "compute/test_list.py::test_list_servers_by_changes_since_future_date",
        "compute/test_list.py::test_list_servers_by_non_existing_flavor",
        "compute/test_list.py::test_list_servers_by_non_existing_image",
        "compute/test_list.py::test_list_servers_by_non_existing_server_name",
        "compute/test_list.py::test_list_servers_status_non_existing",
    ),
    "server-metadata-not-kept": (
        "compute/test_metadata.py::test_delete_server_metadata_item",
        "compute/test_metadata.py::test_get_server_metadata_item",
        "compute/test_metadata.py::test_list_server_metadata",
        "compute/test_metadata.py::test_set_metadata_item_errors_are_400",
        "compute/test_metadata.py::test_set_server_metadata",
        "compute/test_metadata.py::test_set_server_metadata_item",
        "compute/test_metadata.py::test_update_server_metadata",
    ),
    "volume-errors-as-framework-json": (
        "volume/test_actions.py::test_create_volume_from_nonexistent_image_is_400",
        "volume/test_actions.py::test_readonly_flag_refusals",
        "volume/test_actions.py::test_upload_of_nonexistent_volume_is_404",
        "volume/test_isolation.py::test_another_tenant_cannot_touch_the_volume",
        "volume/test_isolation.py::test_another_tenants_volume_and_snapshot_are_404",
        "volume/test_metadata.py::*",
        "volume/test_service.py::test_unsupported_microversion_is_406",
        "volume/test_snapshots.py::test_create_snapshot_with_nonexistent_volume_id",
        "volume/test_snapshots.py::test_create_snapshot_without_passing_volume_id",
        "volume/test_snapshots.py::test_create_volume_with_nonexistent_snapshot_id",
        "volume/test_snapshots.py::test_crud_snapshot_metadata",
        "volume/test_snapshots.py::test_delete_volume_with_snapshots_is_400",
        "volume/test_snapshots.py::test_get_and_delete_nonexistent_snapshot",
        "volume/test_snapshots.py::test_update_show_snapshot_metadata_item",
        "volume/test_volumes.py::test_create_volume_refused",
        "volume/test_volumes.py::test_delete_invalid_volume_id",
        "volume/test_volumes.py::test_delete_volume_without_passing_volume_id",
        "volume/test_volumes.py::test_get_invalid_volume_id",
        "volume/test_volumes.py::test_get_volume_without_passing_volume_id",
        "volume/test_volumes.py::test_update_volume_with_empty_volume_id",
        "volume/test_volumes.py::test_update_volume_with_invalid_volume_id",
        "volume/test_volumes.py::test_update_volume_with_nonexistent_volume_id",
        "volume/test_volumes.py::test_volume_delete_nonexistent_volume_id",
        "volume/test_volumes.py::test_volume_get_nonexistent_volume_id",
    ),
    "volume-list-ignores-filters": (
        "volume/test_list.py::test_list_volumes_with_invalid_status",
        "volume/test_list.py::test_list_volumes_with_nonexistent_name",
    ),
    "volume-reads-without-id": (
        "volume/test_actions.py::test_volume_bootable",
        "volume/test_actions.py::test_volume_create_get_update_delete_as_clone",
        "volume/test_actions.py::test_volume_create_get_update_delete_from_image",
        "volume/test_actions.py::test_volume_readonly_update",
        "volume/test_actions.py::test_volume_upload",
        "volume/test_isolation.py::test_admin_lists_every_project_with_all_tenants",
        "volume/test_list.py::test_volume_list",
        "volume/test_list.py::test_volume_list_by_name",
        "volume/test_list.py::test_volume_list_details_with_multiple_params",
        "volume/test_list.py::test_volume_list_pagination",
        "volume/test_list.py::test_volume_list_param_name_and_status",
        "volume/test_list.py::test_volume_list_with_details",
        "volume/test_list.py::test_volume_list_with_param_metadata",
        "volume/test_list.py::test_volumes_list_by_availability_zone",
        "volume/test_list.py::test_volumes_list_by_status",
        "volume/test_metadata.py::test_crud_volume_metadata",
        "volume/test_snapshots.py::test_snapshot_create_get_list_update_delete",
        "volume/test_snapshots.py::test_snapshots_list_with_params",
        "volume/test_snapshots.py::test_update_snapshot_metadata",
        "volume/test_snapshots.py::test_volume_from_snapshot",
        "volume/test_volumes.py::test_get_volume",
        "volume/test_volumes.py::test_update_volume_name_and_description",
        "volume/test_volumes.py::test_volume_create_get_update_delete",
    ),
    "volume-versions-listed-twice": (
        "volume/test_service.py::test_list_versions",
    ),
    "volume-writes-answer-200": (
        "compute/test_volume_attach.py::*",
        "volume/test_actions.py::test_volume_create_get_update_delete_as_clone",
        "volume/test_actions.py::test_volume_create_get_update_delete_from_image",
        "volume/test_actions.py::test_volume_readonly_update",
        "volume/test_actions.py::test_volume_upload",
        "volume/test_snapshots.py::test_snapshot_create_get_list_update_delete",
        "volume/test_snapshots.py::test_volume_from_snapshot",
        "volume/test_volumes.py::test_update_volume_name_and_description",
        "volume/test_volumes.py::test_volume_create_get_update_delete",
    ),
}


SERVICES = ("identity", "image", "volume", "network", "compute")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _not_discovery(svc: str) -> str:
    """The paths of service ``svc`` but its version documents (``/svc/``,
    ``/svc/v3``, ``/image/versions``): keystoneauth caches those for the whole
    process, so a mutated one would break later fixtures, not a test."""
    return rf"/{svc}/(?!v[0-9.]+/?$)(?!versions/?$).+"


def _authenticated(ex: Exchange) -> bool:
    return "x-auth-token" in ex.request_headers


def _edit(path: tuple[str, ...], change: Callable[[Any], Any]) -> Callable[[Any], bool]:
    """An ``edit_json`` edit: replace the value at ``path`` (keys; ``*`` is
    every list item) by ``change(value)``; True when something changed."""
    def edit(body: Any, keys: tuple[str, ...] = path) -> bool:
        if not keys:
            return False
        head, rest = keys[0], keys[1:]
        items = body if head == "*" and isinstance(body, list) else None
        if items is not None:
            return any([edit(i, rest) for i in items])
        if not isinstance(body, dict) or head not in body:
            return False
        if rest:
            return edit(body[head], rest)
        new = change(body[head])
        if new is _DELETE:
            del body[head]
            return True
        if new == body[head]:
            return False
        body[head] = new
        return True
    return edit


_DELETE = object()


def _metadata_not_kept(body: Any) -> bool:
    """A server's metadata answers lose an item: the last of ``metadata``
    that is not the run's tag; a ``meta`` item's value comes back changed."""
    if not isinstance(body, dict):
        return False
    if isinstance(body.get("meta"), dict) and body["meta"]:
        body["meta"] = {k: f"{v}-changed" for k, v in body["meta"].items()}
        return True
    items = body.get("metadata")
    keys = sorted(k for k in items if not k.startswith("octoprobe")) if isinstance(items, dict) else []
    if not keys:
        return False
    del items[keys[-1]]
    return True


def _duplicate_versions(body: Any) -> bool:
    versions = body.get("versions") if isinstance(body, dict) else None
    if not isinstance(versions, list) or not versions:
        return False
    versions.append(dict(versions[0]))
    return True


def _other_microversion(ex: Exchange) -> bool:
    """The cloud answers at another microversion than the one asked
    (``OpenStack-API-Version: compute 2.1`` asked, ``compute 2.2`` announced)."""
    asked = ex.request_headers.get("openstack-api-version", "")
    service, _, version = asked.partition(" ")
    major, _, minor = version.partition(".")
    if not (major.isdigit() and minor.isdigit()) or ex.status >= 300:
        return False
    other = f"{major}.{int(minor) + 1}"
    ex.headers["openstack-api-version"] = f"{service} {other}"
    if "x-openstack-nova-api-version" in ex.headers:
        ex.headers["x-openstack-nova-api-version"] = other
    return True


#: broad per-service mutations: what a cloud gets wrong across a whole API
ERRORS = [Case(f"{svc}-errors-as-framework-json",
               (lambda svc=svc: framework_error(f"{svc} 4xx -> {{detail}}", f"/{svc}/.*")),
               MUST_FAIL[f"{svc}-errors-as-framework-json"], ALL_PARTS)
          for svc in SERVICES]
WRITE_STATUSES = [Case(f"{svc}-writes-answer-200",
                       (lambda svc=svc: remap_status(f"{svc} 201/202/204 -> 200", f"/{svc}/.*",
                                                     {201: 200, 202: 200, 204: 200}, methods=WRITES)),
                       MUST_FAIL[f"{svc}-writes-answer-200"], ALL_PARTS)
                  for svc in SERVICES]
READS_WITHOUT_ID = [Case(f"{svc}-reads-without-id",
                         (lambda svc=svc: drop_everywhere(f"{svc} GET without id", _not_discovery(svc), "id")),
                         MUST_FAIL[f"{svc}-reads-without-id"], ALL_PARTS)
                    for svc in SERVICES]
COMPUTE_V = r"/compute/v2\.1"
VOLUME_V = r"/volume/v3(?:/[^/]+)?"
TARGETED_READS = [
    Case("identity-v3-document-unknown-status-without-media-types",
         lambda: edit_json("GET /v3: status RETIRED, no media-types", r"/identity/v3/?",
                           lambda b: _edit(("version", "status"), lambda v: "RETIRED")(b)
                           | _edit(("version", "media-types"), lambda v: _DELETE)(b), when=_authenticated),
         MUST_FAIL["identity-v3-document-unknown-status-without-media-types"]),
    Case("identity-root-v3-deprecated",
         lambda: edit_json("GET /identity/: v3 DEPRECATED", r"/identity/?",
                           _edit(("versions", "values", "*", "status"), lambda v: "deprecated"),
                           statuses=(200, 300)), MUST_FAIL["identity-root-v3-deprecated"]),
    Case("volume-versions-listed-twice",
         lambda: edit_json("GET /volume/: a version twice", r"/volume/?", _duplicate_versions, when=_authenticated,
                           statuses=(200, 300)),
         MUST_FAIL["volume-versions-listed-twice"], VOLUME),
    Case("compute-versions-out-of-order",
         lambda: edit_json("GET /compute/: versions reversed", r"/compute/?",
                           lambda b: _edit(("versions",), lambda v: list(reversed(v)) if len(v) > 1 else v)(b),
                           when=_authenticated, statuses=(200, 300)),
         MUST_FAIL["compute-versions-out-of-order"], COMPUTE),
    Case("network-no-current-version",
         lambda: edit_json("GET /network/: CURRENT -> SUPPORTED", r"/network/?",
                           _edit(("versions", "*", "status"), lambda v: "SUPPORTED" if v == "CURRENT" else v),
                           when=_authenticated, statuses=(200, 300)), MUST_FAIL["network-no-current-version"], NETWORK),
    Case("network-resources-without-collection",
         lambda: drop_everywhere("GET /v2.0/ resources without collection", r"/network/v2\.0/?", "collection",
                                 when=_authenticated), MUST_FAIL["network-resources-without-collection"], NETWORK),
    Case("extensions-without-alias",
         lambda: drop_everywhere("extensions without alias", rf"(?:/network/v2\.0|{VOLUME_V})/extensions(?:/.*)?",
                                 "alias"), MUST_FAIL["extensions-without-alias"], VOLUME + NETWORK),
    Case("availability-zones-without-state",
         lambda: drop_everywhere("AZ without zoneState", rf"(?:{COMPUTE_V}|{VOLUME_V})/os-availability-zone.*",
                                 "zoneState"), MUST_FAIL["availability-zones-without-state"], VOLUME + COMPUTE),
    Case("instance-actions-without-request_id",
         lambda: drop_everywhere("instance actions without request_id",
                                 rf"{COMPUTE_V}/servers/{UUID}/os-instance-actions.*", "request_id"),
         MUST_FAIL["instance-actions-without-request_id"], COMPUTE),
    Case("server-metadata-not-kept",
         lambda: edit_json("server metadata loses an item", rf"{COMPUTE_V}/servers/{UUID}/metadata(?:/.*)?",
                           _metadata_not_kept, methods=("GET", "PUT", "POST")),
         MUST_FAIL["server-metadata-not-kept"], COMPUTE),
    Case("keypair-created-without-fingerprint",
         lambda: drop_everywhere("POST keypair without fingerprint", rf"{COMPUTE_V}/os-keypairs", "fingerprint",
                                 methods=("POST",)), MUST_FAIL["keypair-created-without-fingerprint"], COMPUTE),
    Case("server-create-forgets-adminPass",
         lambda: drop_everywhere("POST /servers without adminPass", rf"{COMPUTE_V}/servers", "adminPass",
                                 methods=("POST",)),
         MUST_FAIL["server-create-forgets-adminPass"], COMPUTE),
    Case("router-gateway-without-address",
         lambda: edit_json("PUT router: gateway without external_fixed_ips", rf"/network/v2\.0/routers/{UUID}",
                           _edit(("router", "external_gateway_info", "external_fixed_ips"), lambda v: _DELETE),
                           methods=("PUT",)), MUST_FAIL["router-gateway-without-address"], NETWORK),
    Case("security-group-rule-loses-protocol",
         lambda: edit_json("POST rule: protocol null", r"/network/v2\.0/security-group-rules",
                           _edit(("security_group_rule", "protocol"), lambda v: None), methods=("POST",)),
         ("network/test_security_groups.py::test_create_security_group_rule_with_protocol_integer_value",), NETWORK),
    Case("server-list-ignores-filters",
         lambda: ignore_query("GET /servers ignores filters", rf"{COMPUTE_V}/servers(?:/detail)?"),
         MUST_FAIL["server-list-ignores-filters"], COMPUTE),
    Case("volume-list-ignores-filters",
         lambda: ignore_query("GET /volumes ignores filters", rf"{VOLUME_V}/volumes(?:/detail)?"),
         MUST_FAIL["volume-list-ignores-filters"], VOLUME),
]
MICROVERSIONS = [
    Case("microversion-not-honoured",
         lambda: Mutation("announce another microversion", rf"{COMPUTE_V}/flavors|{VOLUME_V}/volumes",
                          _other_microversion, ("GET",)), MUST_FAIL["microversion-not-honoured"], COMPUTE + VOLUME),
]
LEAKS = [
    Case("other-tenants-resources-in-lists",
         # a volume's brief list is left alone: microversion-not-honoured changes GET /volumes?limit=1
         lambda: Leak("leak into lists", ("compute", "volume", "network"), shows=False,
                      lists_of=lambda route: not route.startswith("/volume/") or route.endswith("/detail")),
         MUST_FAIL["other-tenants-resources-in-lists"], ALL_PARTS),
    # not the volume API: a volume 404 is cinder-404-as-plain-text's
    Case("other-tenants-resources-shown",
         lambda: Leak("leak into shows", ("compute", "network", "image"), lists=False),
         MUST_FAIL["other-tenants-resources-shown"], ALL_PARTS),
]


# ---------------------------------------------------------------- the data plane


def _rule_for_the_next_port(request: Request) -> bool:
    """A security-group rule's port range moved up by one (5201 -> 5202)."""
    body = request.json()
    rule = body.get("security_group_rule") if isinstance(body, dict) else None
    if not isinstance(rule, dict) or not isinstance(rule.get("port_range_min"), int):
        return False
    rule["port_range_min"] += 1
    if isinstance(rule.get("port_range_max"), int):
        rule["port_range_max"] += 1
    request.set_json(body)
    return True


def _rule_as_asked(ex: Exchange) -> bool:
    """The created rule shown with the ports that were asked for."""
    body, asked = ex.json(), json.loads(ex.request_body)["security_group_rule"]
    rule = body.get("security_group_rule") if isinstance(body, dict) else None
    if not isinstance(rule, dict) or ex.status >= 300:
        return False
    rule.update(port_range_min=asked.get("port_range_min"), port_range_max=asked.get("port_range_max"))
    ex.set_json(body)
    return True


def _disassociation_becomes_a_read(request: Request) -> bool:
    """A floating IP's ``PUT {"port_id": null}`` forwarded as a GET: nothing changes."""
    body = request.json()
    fip = body.get("floatingip") if isinstance(body, dict) else None
    if not isinstance(fip, dict) or "port_id" not in fip or fip["port_id"] is not None:
        return False
    request.method, request.body = "GET", b""
    return True


def _as_disassociated(ex: Exchange) -> bool:
    body = ex.json()
    fip = body.get("floatingip") if isinstance(body, dict) else None
    if not isinstance(fip, dict) or ex.status != 200:
        return False
    fip.update(port_id=None, fixed_ip_address=None, status="DOWN")
    ex.set_json(body)
    return True


def _another_name(request: Request) -> bool:
    """The server's name with its last letter changed (the run's prefix kept, for the sweep)."""
    body = request.json()
    server = body.get("server") if isinstance(body, dict) else None
    name = server.get("name") if isinstance(server, dict) else None
    if not isinstance(name, str) or not name:
        return False
    cut = min(len(name), 63) - 1  # a host name has 63 characters at most
    server["name"] = name[:cut] + ("z" if name[cut] != "z" else "y") + name[cut + 1:]
    request.set_json(body)
    return True


def _other_fixed_ipv4(body: Any) -> bool:
    """Every fixed IPv4 address of a server shown 128 addresses further (last octet)."""
    server = body.get("server") if isinstance(body, dict) else None
    changed = False
    for addresses in (server.get("addresses") or {}).values() if isinstance(server, dict) else ():
        for entry in addresses:
            if entry.get("version") == 4 and entry.get("OS-EXT-IPS:type", "fixed") == "fixed":
                octets = entry["addr"].split(".")
                octets[-1] = str((int(octets[-1]) + 128) % 256)
                entry["addr"] = ".".join(octets)
                changed = True
    return changed


def _other_mac(mac: Any) -> Any:
    if not isinstance(mac, str):
        return mac
    head, last = mac.rsplit(":", 1)
    return f"{head}:{int(last, 16) ^ 0x01:02x}"


def _other_public_key(key: Any) -> Any:
    """The same kind of key, its last 8 characters changed."""
    if not isinstance(key, str) or len(key.split()) < 2:
        return key
    kind, blob = key.split()[:2]
    return f"{kind} {blob[:-8]}{'AAAAAAAA' if blob[-8:] != 'AAAAAAAA' else 'BBBBBBBB'}"


SSH_TESTS = "compute/test_ssh.py::"
DATAPLANE_TESTS = "network/test_dataplane.py::"
#: the cloud does something else than its API says: what only the guests and the packets show
DATA_PLANE_CASES = [
    Case("security-group-rule-opens-another-port",
         lambda: RewriteRequest("POST rule: port + 1, shown as asked", r"/network/v2\.0/security-group-rules",
                                _rule_for_the_next_port, answer=_rule_as_asked, methods=("POST",)),
         (DATAPLANE_TESTS + "test_rule_opens_a_closed_port_and_deleting_it_closes_it",), DATA_PLANE),
    Case("floating-ip-disassociation-not-done",
         lambda: RewriteRequest("PUT floating IP port_id null: not done, shown as done",
                                rf"/network/v2\.0/floatingips/{UUID}", _disassociation_becomes_a_read,
                                answer=_as_disassociated, methods=("PUT",)),
         (DATAPLANE_TESTS + "test_floating_ip_reaches_the_server",), DATA_PLANE),
    Case("server-booted-under-another-name",
         # the shared server boots in the setup of compute/test_ssh.py's first test
         lambda: RewriteRequest("POST /servers: another name", rf"{COMPUTE_V}/servers", _another_name,
                                methods=("POST",), phases=("setup",), when=lambda request: SSH_TESTS in request.test),
         (SSH_TESTS + "test_host_name_is_same_as_server_name",), DATA_PLANE),
    Case("flavor-vcpus-misreported",
         lambda: edit_json("GET flavor: vcpus + 1", rf"{COMPUTE_V}/flavors/[^/]+",
                           _edit(("flavor", "vcpus"), lambda v: v + 1)),
         (SSH_TESTS + "test_verify_created_server_vcpus",), DATA_PLANE),
    Case("server-fixed-ipv4-misreported",
         lambda: edit_json("GET server: fixed IPv4 + 128", rf"{COMPUTE_V}/servers/{UUID}", _other_fixed_ipv4),
         (SSH_TESTS + "test_guest_has_the_servers_addresses",
          DATAPLANE_TESTS + "test_server_gets_private_ipv4_and_ipv6",
          DATAPLANE_TESTS + "test_other_tenants_server_is_unreachable_by_private_ipv4"), DATA_PLANE),
    Case("port-mac-misreported",
         lambda: edit_json("GET port: another MAC", rf"/network/v2\.0/ports/{UUID}",
                           _edit(("port", "mac_address"), _other_mac)),
         (DATAPLANE_TESTS + "test_slaac_address_follows_the_mac",), DATA_PLANE),
    Case("keypair-public-key-misreported",
         lambda: edit_json("GET keypair: another public key", rf"{COMPUTE_V}/os-keypairs/[^/]+",
                           _edit(("keypair", "public_key"), _other_public_key)),
         (SSH_TESTS + "test_server_takes_its_keypair_and_no_other_key",), DATA_PLANE),
]
CASES += DATA_PLANE_CASES
EXPLORE = ERRORS + WRITE_STATUSES + READS_WITHOUT_ID + TARGETED_READS + MICROVERSIONS + LEAKS
CASES += EXPLORE
CASE_BY_NAME = {c.name: c for c in CASES}


@dataclass(frozen=True)
class Group:
    """Cases run together in one suite run: a :class:`Composite` of their
    mutations, which must touch disjoint requests (other services, other
    statuses, other methods); each case's own ``applied`` and ``must_fail``
    are checked."""

    name: str
    cases: tuple[Case, ...]

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for c in self.cases for p in c.parts))

    def make(self) -> Composite:
        return Composite(self.name, {c.name: c.make() for c in self.cases})


def _cases(*names: str) -> tuple[Case, ...]:
    return tuple(CASE_BY_NAME[n] for n in names)


#: What runs in CI: two runs of every proxied part, each with many mutations
#: that touch disjoint requests. A Composite offers each response to its
#: parts in this order; they are disjoint by service, method, path or the
#: *original* status (a part that changes a status, like
#: image-404-becomes-200, comes before those that look at statuses after it).
GROUPS = [
    # errors (4xx bodies), write statuses (non-GET 2xx), leaks into lists (GET 200 of collections), and
    # targeted changes of GET 200 responses of single resources
    Group("errors-writes-lists", tuple(ERRORS + WRITE_STATUSES) + _cases(
        "other-tenants-resources-in-lists", "alt-image-leaks-into-list", "image-schemas-without-name",
        "network-without-status", "microversion-not-honoured", "server-list-ignores-filters",
        "volume-list-ignores-filters")),
    # reads (GET 2xx), targeted refusals (4xx that should stay 4xx), version documents, leaks into shows
    Group("reads-refusals-shows", tuple(READS_WITHOUT_ID)
          + tuple(c for c in TARGETED_READS if "ignores-filters" not in c.name) + _cases(
        "token-without-expires_at", "image-404-becomes-200", "keystone-401-plain-text",
        "image-put-refusals-become-204", "image-patch-errors-become-200", "image-delete-refusals-become-204",
        "keystone-refusals-become-200", "cinder-404-as-plain-text", "volume-with-snapshots-deletable",
        "neutron-refusals-become-500", "other-tenants-resources-shown")),
    # the data plane's modules only: the cloud does something else than its API says
    Group("data-plane", tuple(DATA_PLANE_CASES)),
]
#: cases that run by hand only: in a group their tests fail (on a write status) before the call they
#: change, and each of their tests is failed by some mutation of the groups
BY_HAND_ONLY = ("image-show-without-checksum", "volume-without-readonly", "network-in-use-deletable")
EXPLORE_GROUPS = [
    Group("explore-errors", tuple(ERRORS)),
    Group("explore-writes", tuple(WRITE_STATUSES)),
    Group("explore-ids", tuple(READS_WITHOUT_ID)),
    Group("explore-leak", tuple(LEAKS)),
    Group("explore-targeted", tuple(TARGETED_READS)),
    Group("explore-versions", _cases("compute-versions-out-of-order", "network-no-current-version",
                                     "microversion-not-honoured", "identity-root-v3-deprecated",
                                     "volume-versions-listed-twice")),
]
GROUP_BY_NAME = {g.name: g for g in GROUPS + EXPLORE_GROUPS}
#: tests of the proxied parts no HTTP mutation can fail, and why
EXCLUDED: dict[str, str] = {}
