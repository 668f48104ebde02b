// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

/// @title Registry — identities (X25519 encryption keys) and nodes (PeerId, roles, multiaddrs).
/// @notice An account registers its own identity and, if it runs a node, its node record: the node
///         address is the node's wallet key, from which its libp2p PeerId is derived. Serving as a
///         bootstrap node needs the network operator's (the owner's) approval.
contract Registry is Ownable {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @notice Role bit: the node is a bootstrap node (effective only once the owner approves it).
    uint8 public constant ROLE_BOOTSTRAP = 1;
    /// @notice Role bit: the node relays connections for others.
    uint8 public constant ROLE_RELAY = 2;
    /// @notice Role bit: the node hosts services.
    uint8 public constant ROLE_SERVICE_HOST = 4;
    /// @notice Longest accepted PeerId, in bytes (a secp256k1 identity PeerId has 39).
    uint256 public constant MAX_PEER_ID_BYTES = 64;
    /// @notice Most multiaddrs a node may list.
    uint256 public constant MAX_MULTIADDRS = 8;
    /// @notice Longest accepted multiaddr string, in bytes.
    uint256 public constant MAX_MULTIADDR_BYTES = 256;

    uint8 private constant ALL_ROLES = ROLE_BOOTSTRAP | ROLE_RELAY | ROLE_SERVICE_HOST;

    struct Identity {
        bytes32 encryptionKey;
        uint64 registeredAt;
        uint64 updatedAt;
    }

    struct Node {
        uint8 roles;
        bool active;
        bytes peerId;
        string[] multiaddrs;
    }

    mapping(address account => Identity) private _identities;
    mapping(address node => Node) private _nodes;
    EnumerableSet.AddressSet private _approvedBootstrap;

    event IdentityRegistered(address indexed account, bytes32 encryptionKey);
    event EncryptionKeyUpdated(address indexed account, bytes32 encryptionKey);
    event NodeRegistered(address indexed node, bytes peerId, uint8 roles);
    event NodeUpdated(address indexed node, uint8 roles);
    event NodeRemoved(address indexed node);
    event BootstrapChanged(address indexed node, bool enabled);

    error InvalidEncryptionKey();
    error IdentityAlreadyRegistered(address account);
    error IdentityNotRegistered(address account);
    error InvalidPeerId(uint256 length, uint256 maxLength);
    error InvalidRoles(uint8 roles);
    error TooManyMultiaddrs(uint256 count, uint256 maxCount);
    error InvalidMultiaddr(uint256 index, uint256 length, uint256 maxLength);
    error NodeAlreadyRegistered(address node);
    error NodeNotRegistered(address node);
    error ZeroAddress();

    constructor(address initialOwner) Ownable(initialOwner) {}

    // ---------------------------------------------------------------- identities

    /// @notice Register the caller's identity with its raw 32-byte X25519 public key.
    function registerIdentity(bytes32 encryptionKey) external {
        if (encryptionKey == bytes32(0)) revert InvalidEncryptionKey();
        Identity storage id = _identities[msg.sender];
        if (id.encryptionKey != bytes32(0)) revert IdentityAlreadyRegistered(msg.sender);
        id.encryptionKey = encryptionKey;
        id.registeredAt = uint64(block.timestamp);
        id.updatedAt = uint64(block.timestamp);
        emit IdentityRegistered(msg.sender, encryptionKey);
    }

    /// @notice Replace the caller's encryption key (key rotation).
    function updateEncryptionKey(bytes32 encryptionKey) external {
        if (encryptionKey == bytes32(0)) revert InvalidEncryptionKey();
        Identity storage id = _identities[msg.sender];
        if (id.encryptionKey == bytes32(0)) revert IdentityNotRegistered(msg.sender);
        id.encryptionKey = encryptionKey;
        id.updatedAt = uint64(block.timestamp);
        emit EncryptionKeyUpdated(msg.sender, encryptionKey);
    }

    /// @notice An account's identity; encryptionKey zero means not registered.
    function getIdentity(address account)
        external
        view
        returns (bytes32 encryptionKey, uint64 registeredAt, uint64 updatedAt)
    {
        Identity storage id = _identities[account];
        return (id.encryptionKey, id.registeredAt, id.updatedAt);
    }

    // ---------------------------------------------------------------- nodes

    /// @notice Register the caller as a node with its PeerId, roles bitmask and listen multiaddrs.
    function registerNode(bytes calldata peerId, uint8 roles, string[] calldata multiaddrs) external {
        if (peerId.length == 0 || peerId.length > MAX_PEER_ID_BYTES) {
            revert InvalidPeerId(peerId.length, MAX_PEER_ID_BYTES);
        }
        Node storage node = _nodes[msg.sender];
        if (node.active) revert NodeAlreadyRegistered(msg.sender);
        _checkRoles(roles);
        _checkMultiaddrs(multiaddrs);
        node.roles = roles;
        node.active = true;
        node.peerId = peerId;
        node.multiaddrs = multiaddrs;
        emit NodeRegistered(msg.sender, peerId, roles);
    }

    /// @notice Change the caller's roles and multiaddrs.
    function updateNode(uint8 roles, string[] calldata multiaddrs) external {
        Node storage node = _nodes[msg.sender];
        if (!node.active) revert NodeNotRegistered(msg.sender);
        _checkRoles(roles);
        _checkMultiaddrs(multiaddrs);
        node.roles = roles;
        node.multiaddrs = multiaddrs;
        emit NodeUpdated(msg.sender, roles);
    }

    /// @notice Withdraw the caller's node record.
    function removeNode() external {
        if (!_nodes[msg.sender].active) revert NodeNotRegistered(msg.sender);
        delete _nodes[msg.sender];
        emit NodeRemoved(msg.sender);
    }

    /// @notice A node's record; `active` false means not registered (or removed).
    function getNode(address node)
        external
        view
        returns (bytes memory peerId, uint8 roles, string[] memory multiaddrs, bool active)
    {
        Node storage n = _nodes[node];
        return (n.peerId, n.roles, n.multiaddrs, n.active);
    }

    // ---------------------------------------------------------------- bootstrap approval

    /// @notice Approve or withdraw `node` as a bootstrap node; only the network operator.
    /// @dev Approval may precede the node's registration; bootstrapNodes() lists only approved nodes
    ///      that are registered and claim the BOOTSTRAP role.
    function setBootstrap(address node, bool enabled) external onlyOwner {
        if (node == address(0)) revert ZeroAddress();
        bool changed = enabled ? _approvedBootstrap.add(node) : _approvedBootstrap.remove(node);
        if (changed) emit BootstrapChanged(node, enabled);
    }

    /// @notice Whether `node` currently serves as a bootstrap node (approved, registered, role set).
    function isBootstrap(address node) public view returns (bool) {
        Node storage n = _nodes[node];
        return n.active && (n.roles & ROLE_BOOTSTRAP) != 0 && _approvedBootstrap.contains(node);
    }

    /// @notice The nodes that currently serve as bootstrap nodes.
    function bootstrapNodes() external view returns (address[] memory nodes) {
        address[] memory approved = _approvedBootstrap.values();
        nodes = new address[](approved.length);
        uint256 count;
        for (uint256 i; i < approved.length; ++i) {
            if (isBootstrap(approved[i])) nodes[count++] = approved[i];
        }
        assembly ("memory-safe") {
            mstore(nodes, count)
        }
    }

    /// @notice The nodes the owner approved as bootstrap nodes, whether or not they are registered.
    function approvedBootstrapNodes() external view returns (address[] memory) {
        return _approvedBootstrap.values();
    }

    function _checkRoles(uint8 roles) private pure {
        if (roles & ~ALL_ROLES != 0) revert InvalidRoles(roles);
    }

    function _checkMultiaddrs(string[] calldata multiaddrs) private pure {
        if (multiaddrs.length > MAX_MULTIADDRS) revert TooManyMultiaddrs(multiaddrs.length, MAX_MULTIADDRS);
        for (uint256 i; i < multiaddrs.length; ++i) {
            uint256 length = bytes(multiaddrs[i]).length;
            if (length == 0 || length > MAX_MULTIADDR_BYTES) {
                revert InvalidMultiaddr(i, length, MAX_MULTIADDR_BYTES);
            }
        }
    }
}
