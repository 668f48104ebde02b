// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {OrgToken} from "./OrgToken.sol";
import {IOrganizations} from "./interfaces/IOrganizations.sol";

/// @title Organizations — admins, members, nodes, a token and a network label per organization.
/// @notice An organization is an isolated DIBS network: its members may use ORG_MEMBERS services
///         that reference it, its nodes carry its network label.
contract Organizations is IOrganizations {
    /// @notice Longest organization name, in bytes.
    uint256 public constant MAX_NAME_BYTES = 64;
    /// @notice Longest network label, in bytes.
    uint256 public constant MAX_LABEL_BYTES = 32;
    /// @notice Longest fleet configuration key, in bytes.
    uint256 public constant MAX_ENV_KEY_BYTES = 64;
    /// @notice Longest fleet configuration value, in bytes.
    uint256 public constant MAX_ENV_VALUE_BYTES = 1024;
    /// @notice Most fleet configuration keys one organization may hold.
    uint256 public constant MAX_ENV_KEYS = 64;

    struct Organization {
        address admin;
        address token;
        string name;
        string networkLabel;
    }

    uint256 private _count;
    mapping(uint256 orgId => Organization) private _orgs;
    mapping(uint256 orgId => mapping(address account => bool)) private _members;
    mapping(uint256 orgId => mapping(address node => bool)) private _nodes;
    mapping(uint256 orgId => uint256 serviceId) private _networkServices;
    mapping(uint256 orgId => string[] keys) private _envKeys;
    /// @dev 1-based position of a key in _envKeys, 0 when the key is unset.
    mapping(uint256 orgId => mapping(string key => uint256 position)) private _envPositions;
    mapping(uint256 orgId => mapping(string key => string value)) private _envValues;

    event OrganizationCreated(
        uint256 indexed orgId, address indexed admin, address indexed token, string name, string networkLabel
    );
    event MemberAdded(uint256 indexed orgId, address indexed account);
    event MemberRemoved(uint256 indexed orgId, address indexed account);
    event NodeAdded(uint256 indexed orgId, address indexed node);
    event NodeRemoved(uint256 indexed orgId, address indexed node);
    event AdminTransferred(uint256 indexed orgId, address indexed previousAdmin, address indexed newAdmin);
    event NetworkServiceSet(uint256 indexed orgId, uint256 indexed serviceId);
    /// @notice A fleet configuration entry was set, or removed (`value` empty).
    event EnvChanged(uint256 indexed orgId, string key, string value);

    error OrganizationNotFound(uint256 orgId);
    error NotOrganizationAdmin(uint256 orgId, address caller);
    error InvalidOrganizationName(uint256 length, uint256 maxLength);
    error InvalidNetworkLabel(uint256 length, uint256 maxLength);
    error InvalidToken(address token);
    error ZeroAddress();
    error AlreadyMember(uint256 orgId, address account);
    error NotMember(uint256 orgId, address account);
    error AlreadyNode(uint256 orgId, address node);
    error NotNode(uint256 orgId, address node);
    error InvalidEnvKey(uint256 length, uint256 maxLength);
    error EnvValueTooLong(uint256 length, uint256 maxLength);
    error TooManyEnvKeys(uint256 orgId, uint256 maxKeys);

    modifier onlyAdmin(uint256 orgId) {
        address admin = _orgs[orgId].admin;
        if (admin == address(0)) revert OrganizationNotFound(orgId);
        if (admin != msg.sender) revert NotOrganizationAdmin(orgId, msg.sender);
        _;
    }

    /// @notice Create an organization administered by the caller. With `token` zero a fresh OrgToken
    ///         (symbol "ORG", minted by the admin) is deployed for it.
    function createOrganization(string calldata name, string calldata networkLabel, address token)
        external
        returns (uint256 orgId)
    {
        uint256 nameLength = bytes(name).length;
        if (nameLength == 0 || nameLength > MAX_NAME_BYTES) revert InvalidOrganizationName(nameLength, MAX_NAME_BYTES);
        uint256 labelLength = bytes(networkLabel).length;
        if (labelLength == 0 || labelLength > MAX_LABEL_BYTES) revert InvalidNetworkLabel(labelLength, MAX_LABEL_BYTES);
        if (token != address(0) && token.code.length == 0) revert InvalidToken(token);

        orgId = ++_count;
        if (token == address(0)) token = address(new OrgToken(name, "ORG", orgId));
        Organization storage org = _orgs[orgId];
        org.admin = msg.sender;
        org.token = token;
        org.name = name;
        org.networkLabel = networkLabel;
        emit OrganizationCreated(orgId, msg.sender, token, name, networkLabel);
    }

    /// @notice Admit `account` as a member; only the admin.
    function addMember(uint256 orgId, address account) external onlyAdmin(orgId) {
        if (account == address(0)) revert ZeroAddress();
        if (_members[orgId][account]) revert AlreadyMember(orgId, account);
        _members[orgId][account] = true;
        emit MemberAdded(orgId, account);
    }

    /// @notice Remove member `account`; only the admin.
    function removeMember(uint256 orgId, address account) external onlyAdmin(orgId) {
        if (!_members[orgId][account]) revert NotMember(orgId, account);
        _members[orgId][account] = false;
        emit MemberRemoved(orgId, account);
    }

    /// @notice Add `node` (a node's wallet address) to the organization's network; only the admin.
    function addNode(uint256 orgId, address node) external onlyAdmin(orgId) {
        if (node == address(0)) revert ZeroAddress();
        if (_nodes[orgId][node]) revert AlreadyNode(orgId, node);
        _nodes[orgId][node] = true;
        emit NodeAdded(orgId, node);
    }

    /// @notice Remove `node` from the organization's network; only the admin.
    function removeNode(uint256 orgId, address node) external onlyAdmin(orgId) {
        if (!_nodes[orgId][node]) revert NotNode(orgId, node);
        _nodes[orgId][node] = false;
        emit NodeRemoved(orgId, node);
    }

    /// @notice Hand the organization (and minting of its OrgToken) to `newAdmin`; only the admin.
    function transferAdmin(uint256 orgId, address newAdmin) external onlyAdmin(orgId) {
        if (newAdmin == address(0)) revert ZeroAddress();
        _orgs[orgId].admin = newAdmin;
        emit AdminTransferred(orgId, msg.sender, newAdmin);
    }

    /// @notice Record the organization's own network service (the service its members and nodes
    ///         request to join its network); only the admin. Zero clears it.
    function setNetworkService(uint256 orgId, uint256 serviceId) external onlyAdmin(orgId) {
        _networkServices[orgId] = serviceId;
        emit NetworkServiceSet(orgId, serviceId);
    }

    /// @notice Set fleet configuration `key` to `value` (an empty value removes the key); only the
    ///         admin. Keys are 1..MAX_ENV_KEY_BYTES bytes, values at most MAX_ENV_VALUE_BYTES, and an
    ///         organization holds at most MAX_ENV_KEYS keys.
    function setEnv(uint256 orgId, string calldata key, string calldata value) external onlyAdmin(orgId) {
        uint256 keyLength = bytes(key).length;
        if (keyLength == 0 || keyLength > MAX_ENV_KEY_BYTES) revert InvalidEnvKey(keyLength, MAX_ENV_KEY_BYTES);
        if (bytes(value).length > MAX_ENV_VALUE_BYTES) {
            revert EnvValueTooLong(bytes(value).length, MAX_ENV_VALUE_BYTES);
        }
        uint256 position = _envPositions[orgId][key];
        string[] storage keys = _envKeys[orgId];
        if (bytes(value).length == 0) {
            if (position == 0) return;
            uint256 last = keys.length;
            if (position != last) {
                string memory moved = keys[last - 1];
                keys[position - 1] = moved;
                _envPositions[orgId][moved] = position;
            }
            keys.pop();
            delete _envPositions[orgId][key];
            delete _envValues[orgId][key];
        } else {
            if (position == 0) {
                if (keys.length >= MAX_ENV_KEYS) revert TooManyEnvKeys(orgId, MAX_ENV_KEYS);
                keys.push(key);
                _envPositions[orgId][key] = keys.length;
            }
            _envValues[orgId][key] = value;
        }
        emit EnvChanged(orgId, key, value);
    }

    /// @notice The fleet configuration value of `key`, empty when unset.
    function getEnv(uint256 orgId, string calldata key) external view returns (string memory) {
        return _envValues[orgId][key];
    }

    /// @notice Every fleet configuration entry of `orgId` (at most MAX_ENV_KEYS), in no set order.
    function envEntries(uint256 orgId) external view returns (string[] memory keys, string[] memory values) {
        keys = _envKeys[orgId];
        values = new string[](keys.length);
        for (uint256 i; i < keys.length; ++i) {
            values[i] = _envValues[orgId][keys[i]];
        }
    }

    /// @notice The organization's own network service id, zero when none is recorded.
    function networkServiceOf(uint256 orgId) external view returns (uint256) {
        return _networkServices[orgId];
    }

    /// @notice Whether `account` is a member of `orgId` (false for unknown organizations).
    function isMember(uint256 orgId, address account) external view returns (bool) {
        return _members[orgId][account];
    }

    /// @notice Whether `node` belongs to the network of `orgId` (false for unknown organizations).
    function isNode(uint256 orgId, address node) external view returns (bool) {
        return _nodes[orgId][node];
    }

    /// @notice An organization's name, network label, admin and token; reverts for unknown ids.
    function getOrganization(uint256 orgId)
        external
        view
        returns (string memory name, string memory networkLabel, address admin, address token)
    {
        Organization storage org = _orgs[orgId];
        if (org.admin == address(0)) revert OrganizationNotFound(orgId);
        return (org.name, org.networkLabel, org.admin, org.token);
    }

    /// @notice The current admin of `orgId`, zero for unknown ids.
    function adminOf(uint256 orgId) external view returns (address) {
        return _orgs[orgId].admin;
    }

    /// @notice How many organizations exist; ids run from 1 to this number.
    function organizationCount() external view returns (uint256) {
        return _count;
    }
}
