// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title ReferenceGrant — a plain grant contract, the yardstick for AccessGrants in the gas benchmark.
/// @notice Written the straightforward way: allowlist check, SafeERC20 transferFrom, a global nonce and
///         a three-slot grant struct. Not part of a DIBS deployment.
contract ReferenceGrant {
    using SafeERC20 for IERC20;

    struct Grant {
        address grantee;
        bool revoked;
        uint256 serviceId;
        uint64 issuedAt;
        uint64 expiresAt;
    }

    IERC20 public immutable token;
    address public immutable owner;
    uint256 public immutable price;
    uint64 public immutable duration;

    uint256 public nonce;
    mapping(uint256 serviceId => mapping(address account => bool)) public allowed;
    mapping(uint256 grantId => Grant) public grants;

    event GrantIssued(uint256 indexed grantId, uint256 indexed serviceId, address indexed grantee, uint64 expiresAt);

    error NotAllowed(uint256 serviceId, address account);

    constructor(IERC20 token_, uint256 price_, uint64 duration_) {
        token = token_;
        owner = msg.sender;
        price = price_;
        duration = duration_;
    }

    function allow(uint256 serviceId, address account) external {
        allowed[serviceId][account] = true;
    }

    function request(uint256 serviceId) external returns (uint256 grantId) {
        if (!allowed[serviceId][msg.sender]) revert NotAllowed(serviceId, msg.sender);
        token.safeTransferFrom(msg.sender, owner, price);
        grantId = ++nonce;
        uint64 expiresAt = uint64(block.timestamp) + duration;
        grants[grantId] = Grant(msg.sender, false, serviceId, uint64(block.timestamp), expiresAt);
        emit GrantIssued(grantId, serviceId, msg.sender, expiresAt);
    }
}
