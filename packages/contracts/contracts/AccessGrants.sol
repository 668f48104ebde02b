// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Services} from "./Services.sol";
import {IOrganizations} from "./interfaces/IOrganizations.sol";

/// @title AccessGrants — pay for a service and satisfy its policy, receive a grant with an expiry.
/// @notice Also the Services catalog (inherited), so a request reads the service from local storage.
/// @dev A grant id is `(serviceId << 64) | n`, n counting that service's grants from 1: the service
///      is derived from the id instead of being stored, so a grant occupies a single storage slot:
///      grantee (bits 0-159) | issuedAt (160-199) | expiresAt (200-239) | revoked (bit 240).
contract AccessGrants is Services {
    using SafeERC20 for IERC20;

    uint256 private constant SERVICE_SHIFT = 64;
    uint256 private constant ISSUED_SHIFT = 160;
    uint256 private constant EXPIRES_SHIFT = 200;
    uint256 private constant TIME_MASK = (1 << 40) - 1;
    uint256 private constant REVOKED = 1 << 240;

    mapping(uint256 grantId => uint256 packed) private _grants;

    event GrantIssued(
        uint256 indexed grantId, uint256 indexed serviceId, address indexed grantee, uint64 issuedAt, uint64 expiresAt
    );
    event GrantRevoked(uint256 indexed grantId, uint256 indexed serviceId);

    error GrantNotFound(uint256 grantId);
    error NotGrantParty(uint256 grantId, address caller);
    error GrantAlreadyRevoked(uint256 grantId);

    constructor(IOrganizations organizations_) Services(organizations_) {}

    /// @notice Request access to service `serviceId` for the caller: checks that the service is active
    ///         and its policy admits the caller, takes the price once (ERC-20 transferFrom from the
    ///         caller to the service owner, so approve first) and records a grant that expires
    ///         grantDuration seconds from now. Returns the grant id.
    function request(uint256 serviceId) external returns (uint256 grantId) {
        ServiceRecord storage s = _services[serviceId];
        address owner = s.owner;
        uint256 duration = s.grantDuration;
        uint8 policy = s.policy;
        if (!s.active) {
            if (owner == address(0)) revert ServiceNotFound(serviceId);
            revert ServiceInactive(serviceId);
        }
        if (policy != POLICY_PUBLIC && !_meetsPolicy(serviceId, policy, msg.sender)) {
            revert NotAllowed(serviceId, msg.sender);
        }
        uint48 n = s.grantCount + 1;
        s.grantCount = n;
        grantId = (serviceId << SERVICE_SHIFT) | n;
        uint256 expiresAt = block.timestamp + duration;
        _grants[grantId] = uint256(uint160(msg.sender)) | (block.timestamp << ISSUED_SHIFT) | (expiresAt << EXPIRES_SHIFT);
        emit GrantIssued(grantId, serviceId, msg.sender, uint64(block.timestamp), uint64(expiresAt));

        uint256 price = s.price;
        if (price != 0) IERC20(s.paymentToken).safeTransferFrom(msg.sender, owner, price);
    }

    /// @notice Revoke grant `grantId`: the service owner withdraws it, or the grantee gives it up.
    function revoke(uint256 grantId) external {
        uint256 g = _grants[grantId];
        if (g == 0) revert GrantNotFound(grantId);
        uint256 serviceId = grantId >> SERVICE_SHIFT;
        if (address(uint160(g)) != msg.sender && _services[serviceId].owner != msg.sender) {
            revert NotGrantParty(grantId, msg.sender);
        }
        if (g & REVOKED != 0) revert GrantAlreadyRevoked(grantId);
        _grants[grantId] = g | REVOKED;
        emit GrantRevoked(grantId, serviceId);
    }

    /// @notice A grant's record; reverts for unknown ids.
    function getGrant(uint256 grantId)
        external
        view
        returns (address grantee, uint256 serviceId, uint64 issuedAt, uint64 expiresAt, bool revoked)
    {
        uint256 g = _grants[grantId];
        if (g == 0) revert GrantNotFound(grantId);
        return (
            address(uint160(g)),
            grantId >> SERVICE_SHIFT,
            uint64((g >> ISSUED_SHIFT) & TIME_MASK),
            uint64((g >> EXPIRES_SHIFT) & TIME_MASK),
            g & REVOKED != 0
        );
    }

    /// @notice Whether grant `grantId` admits its holder now: it exists, is not revoked, has not
    ///         expired, its service is active, and the holder still meets the service's current
    ///         policy. An allowlist removal, an organization member removal, a token holder selling
    ///         the tokens or a stricter policy set by `update` ends the grant's validity at once.
    /// @dev The policy is checked here, not stored with the grant, so `request` costs nothing more.
    function isValid(uint256 grantId) external view returns (bool) {
        uint256 g = _grants[grantId];
        if (g == 0 || g & REVOKED != 0) return false;
        if (block.timestamp >= ((g >> EXPIRES_SHIFT) & TIME_MASK)) return false;
        uint256 serviceId = grantId >> SERVICE_SHIFT;
        ServiceRecord storage s = _services[serviceId];
        if (!s.active) return false;
        uint8 policy = s.policy;
        return policy == POLICY_PUBLIC || _meetsPolicy(serviceId, policy, address(uint160(g)));
    }

    /// @notice The service a grant id belongs to (whether or not the grant exists).
    function serviceOfGrant(uint256 grantId) external pure returns (uint256) {
        return grantId >> SERVICE_SHIFT;
    }

    /// @notice How many grants service `serviceId` has issued.
    function grantsIssued(uint256 serviceId) external view returns (uint256) {
        return _services[serviceId].grantCount;
    }
}
